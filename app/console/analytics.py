"""``/console/analytics``: the poverty picture of an area in a survey round,
drilling down province → county → village, every table downloadable as CSV.

Pages read the stored figures (``domain.analytics_report``), never the surveys,
so they answer in the same time for ten households or ten million people. A
supervisor starts from their own areas and cannot open any other (404, as for an
area that does not exist). Exports suppress small cells
(``domain.analytics_tables``) and are written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.console import bp, row_id
from app.console.auth import current_console_user
from app.console.export import csv_response
from app.db import db_session, read_session
from app.webhook_auth import request_address
from domain import analytics, audit
from domain.analytics_report import Report, report, villages_table
from domain.analytics_tables import Table
from domain.areas import ancestors
from domain.console_users import visible_areas
from models import Area, SurveyRound


def _round(db: Session) -> SurveyRound | None:
    """``?round=<id>`` or the newest round; 404 for an unknown round."""
    asked = request.args.get("round")
    if asked is None or asked == "":
        newest = analytics.rounds(db)
        return newest[0] if newest else None
    ident = row_id(asked)
    found = db.get(SurveyRound, ident) if ident is not None else None
    if found is None:
        abort(404, "No such survey round.")
    return found


def _scope(db: Session, area_id: int | None) -> tuple[Area | None, list[Area], list[Area]]:
    """The area asked for (404 when unknown or not the user's), the user's top
    areas, and the way down from the top to the area's parent."""
    user = current_console_user()
    visible = visible_areas(db_session(), user)  # who may see what: the primary's word
    if visible is None:
        roots = list(db.scalars(select(Area).where(Area.parent_id.is_(None)).order_by(Area.name)))
    else:
        mine = {a.id for a in user.areas}
        chains = ancestors(db, sorted(mine))
        # An area inside another of the supervisor's areas is not a top of its own.
        tops = {i for i in mine if not any(a in mine for a in chains.get(i, [])[1:])}
        roots = sorted((a for a in user.areas if a.id in tops), key=lambda a: a.name)
    if area_id is None:
        return None, roots, []
    area = db.get(Area, area_id)
    if area is None or (visible is not None and area_id not in visible):
        abort(404, "No such area.")
    # The way down from the top the user starts at: a supervisor's trail stops
    # at their own area (the areas above it are not theirs to open).
    trail: list[Area] = []
    if area_id not in {a.id for a in roots}:
        for ident in ancestors(db, [area_id])[area_id][1:]:
            if visible is not None and ident not in visible:
                break
            above = db.get(Area, ident)
            if above is not None:
                trail.insert(0, above)
    return area, roots, trail


@dataclass(frozen=True)
class Chart:
    caption: str
    items: list[tuple[str, Fraction | None, str]]  # label, 0..1, the figure as shown
    stacked: bool = False  # parts of one whole (a distribution), not separate bars


def _column(
    table: Table, value: int, label: int = 0, scale: int = 1
) -> list[tuple[str, Fraction | None, str]]:
    out = []
    for row in table.rows:
        cell = row[value]
        share = cell.value if isinstance(cell.value, Fraction) else None
        out.append(
            (str(row[label].value), share / scale if share is not None else None, cell.text())
        )
    return out


def charts(page: Report) -> dict[str, Chart]:
    """What the page draws: H by child area, each indicator's contribution, the
    gaps, and the water ladder and FIES as distributions."""
    tables = {t.name: t for t in page.tables}
    out: dict[str, Chart] = {}
    if page.children is not None and page.total.households:
        h = page.children.header.index("H (poor people)")
        out["areas"] = Chart("Share of people who are poor (H)", _column(page.children, h))
    if page.total.households:
        indicators, guarantees = tables["indicators"], tables["guarantees"]
        out["indicators"] = Chart(
            "Each indicator's contribution to the MPI",
            _column(indicators, 5, label=1, scale=100),
        )
        out["guarantees"] = Chart("Share of households lacking each", _column(guarantees, 2)[:-1])
        out["water"] = Chart("People by service level", _column(tables["water"], 3), True)
        out["fies"] = Chart("Households by FIES raw score", _column(tables["fies"], 2), True)
        out["hardship"] = Chart(
            "Households by the main hardship they named", _column(tables["hardship"], 2)
        )
    return out


@bp.get("/analytics")
@bp.get("/analytics/<id:area_id>")
def analytics_page(area_id: int | None = None) -> ResponseReturnValue:
    db = read_session()
    round_ = _round(db)
    area, roots, trail = _scope(db, area_id)
    if round_ is None:
        return render_template(
            "console/analytics.html", page=None, area=area, roots=roots, charts={}
        )
    page = report(db, round_, area, roots, trail)
    return render_template(
        "console/analytics.html", page=page, area=area, roots=roots, charts=charts(page)
    )


@bp.get("/analytics/export/<name>.csv")
@bp.get("/analytics/<id:area_id>/export/<name>.csv")
def analytics_export(name: str, area_id: int | None = None) -> ResponseReturnValue:
    db = read_session()
    round_ = _round(db)
    area, roots, trail = _scope(db, area_id)
    if round_ is None:
        abort(404, "No survey round yet.")
    if name == "villages":
        table = villages_table(db, round_.id, [area] if area is not None else roots)
    else:
        page = report(db, round_, area, roots, trail)
        tables = {t.name: t for t in page.tables}
        if page.children is not None:
            tables["areas"] = page.children
        if name not in tables:
            abort(404, "No such table.")
        table = tables[name]
    where = area.name if area is not None else "all"
    audit.record(
        db_session(),
        user=current_console_user(),
        action="export.analytics",
        subject_type="area",
        subject_id=str(area.id) if area is not None else "all",
        detail={"table": name, "round": round_.name, "rows": len(table.rows)},
        address=request_address(),
    )
    # ASCII only: a header carries Latin-1 at most, and area names are any script.
    name = f"{table.name}-{_slug(where, 'area')}-{_slug(round_.name, str(round_.id))}"
    return csv_response(name, table.header, table.csv_rows())


def _slug(text: str, default: str) -> str:
    """``"Pap Onditi"`` → ``"pap-onditi"``; ``default`` when nothing is left."""
    slug = "".join(c if c.isascii() and c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in slug.split("-") if part)[:40] or default

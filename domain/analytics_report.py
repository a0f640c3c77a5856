"""What the console's analytics page shows for one area and round, read from
the stored figures (``domain.analytics``): the area, the way down to it, its
children (or every village below it, for the export) and its tables.

Reads only ``AreaStatistic`` and ``Area`` rows: a handful of indexed queries
whatever the number of households (``make bench`` times it at 2.5 million).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import analytics
from domain.analytics import AreaFigures, Counts
from domain.analytics_tables import Table, area_tables, areas_table
from domain.areas import ancestors
from models import Area, AreaLevel, AreaStatistic, SurveyRound

CHILD_NAMES = {AreaLevel.PROVINCE: "County", AreaLevel.COUNTY: "Village"}


@dataclass(frozen=True)
class Report:
    """One page: ``area`` None is every area the user may see (``roots``)."""

    round: SurveyRound
    rounds: Sequence[SurveyRound]
    previous: SurveyRound | None
    area: Area | None
    trail: Sequence[Area]  # from the top down to ``area``'s parent
    total: AreaFigures
    children: Table | None  # None for a village
    tables: Sequence[Table]
    refreshed_at: datetime | None


def stored(db: Session, round_id: int, area_ids: Sequence[int]) -> dict[int, AreaStatistic]:
    rows = db.scalars(
        select(AreaStatistic).where(
            AreaStatistic.round_id == round_id, AreaStatistic.area_id.in_(area_ids)
        )
    )
    return {row.area_id: row for row in rows}


def report(
    db: Session,
    round_: SurveyRound,
    area: Area | None,
    roots: Sequence[Area],
    trail: Sequence[Area],
) -> Report:
    """The page for ``area`` (or, when None, for ``roots``: the provinces, or a
    supervisor's own areas) in ``round_``."""
    if area is None:
        children = list(roots)
    else:
        children = list(
            db.scalars(select(Area).where(Area.parent_id == area.id).order_by(Area.name))
        )
    rows = stored(db, round_.id, [a.id for a in children] + ([area.id] if area else []))
    total: dict[str, Counts] = {}
    if area is not None:
        own = rows.get(area.id)
        if own is not None:
            total = dict(own.figures)
    else:
        for child in children:
            if child.id in rows:
                analytics.add(total, rows[child.id].figures)
    figures = AreaFigures(total)
    previous = analytics.previous_round(db, round_.id)
    table = None
    if children:
        if area is not None:
            kind = CHILD_NAMES.get(area.level, "Area")
        else:
            kind = "Province" if all(a.level is AreaLevel.PROVINCE for a in roots) else "Area"
        table = areas_table(
            "areas",
            f"By {kind.lower()}",
            [
                ((c.name,), c.id, AreaFigures(rows[c.id].figures if c.id in rows else {}))
                for c in children
            ],
            (kind,),
        )
    stamps = [r.refreshed_at for r in rows.values()]
    return Report(
        round=round_,
        rounds=analytics.rounds(db),
        previous=previous,
        area=area,
        trail=trail,
        total=figures,
        children=table,
        tables=area_tables(figures, previous.name if previous else None),
        refreshed_at=max(stamps) if stamps else None,
    )


def villages_table(db: Session, round_id: int, tops: Sequence[Area]) -> Table:
    """Every village below (or among) ``tops`` with its figures, under its
    province and county names: the "all villages" export."""
    names: dict[int, tuple[str, int | None, AreaLevel]] = {}
    frontier = [a.id for a in tops]
    above = {i for chain in ancestors(db, frontier).values() for i in chain}
    for ident, name, parent, level in db.execute(
        select(Area.id, Area.name, Area.parent_id, Area.level).where(Area.id.in_(above))
    ):  # the tops and the areas above them, for a village's province and county
        names[ident] = (name, parent, level)
    while frontier:
        found = db.execute(
            select(Area.id, Area.name, Area.parent_id, Area.level).where(
                Area.parent_id.in_(frontier)
            )
        ).all()
        for ident, name, parent, level in found:
            names[ident] = (name, parent, level)
        frontier = [row[0] for row in found if row[3] is not AreaLevel.VILLAGE]
    villages = [i for i, (_n, _p, level) in names.items() if level is AreaLevel.VILLAGE]
    # The summary columns, not the documents: decoding every stored measure
    # of 10,000 villages took most of the export's second.
    summary = [getattr(AreaStatistic, c) for c in analytics.SUMMARY]
    summaries: dict[int, tuple[int, dict[str, int]]] = {}
    for start in range(0, len(villages), 5000):
        chunk = villages[start : start + 5000]
        for area_id, households, *values in db.execute(
            select(AreaStatistic.area_id, AreaStatistic.households, *summary).where(
                AreaStatistic.round_id == round_id, AreaStatistic.area_id.in_(chunk)
            )
        ):
            summaries[area_id] = (households, dict(zip(analytics.SUMMARY, values, strict=True)))
    nobody = (0, dict.fromkeys(analytics.SUMMARY, 0))

    def path(village: int) -> tuple[str, str, str]:
        name, county, _ = names[village]
        county_name, province, _ = (
            names.get(county, ("", None, None)) if county else ("", None, None)
        )
        province_name = names[province][0] if province in names else ""
        return province_name, county_name, name

    rows = sorted(((path(v), v, summaries.get(v, nobody)) for v in villages), key=lambda r: r[0])
    return areas_table("villages", "Every village", rows, ("Province", "County", "Village"))

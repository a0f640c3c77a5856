"""Finding households for the console: by area and by part of the head's name,
within what a user may see; and one household's record, survey by survey.

Built for millions of households on PostgreSQL: a name is matched with
``lower(head_name) LIKE '%…%'``, which the trigram index
``ix_household_head_name_trgm`` (migration 0007) serves; a page is fetched with
one row more than it shows, to know whether another follows, and nothing counts
all matches. A search PostgreSQL cannot answer within ``SEARCH_TIMEOUT_MS`` (two
common letters across the country) is stopped and reported as too broad.

``household_record`` (one household, survey by survey) lives in
``domain.household_record`` and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased

from domain.campaigns import areas_under
from domain.household_record import HouseholdRecord as HouseholdRecord
from domain.household_record import household_record as household_record
from domain.household_record import status_text
from domain.phone import mask_msisdn
from models import Area, Household, HouseholdSurvey, SurveyRound

PAGE_SIZE = 50
#: The deepest page: past 10,000 rows, narrow the search instead (OFFSET costs grow).
MAX_PAGE = 200
MIN_NAME, MAX_NAME = 2, 80  # a head's name is at most 80 characters (the column)
SEARCH_TIMEOUT_MS = 5000
ORDERS = ("recent", "name")


class SearchError(ValueError):
    """A search that cannot be run as asked (the message says why, for the user)."""


def clean_name(name: str | None) -> str:
    """The name words as searched (trimmed); raises ``SearchError`` for control
    characters, one character, or more than ``MAX_NAME``."""
    name = (name or "").strip()
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name):
        raise SearchError("The name may not contain control characters.")
    if len(name) > MAX_NAME:
        raise SearchError(f"A name is at most {MAX_NAME} characters.")
    if 0 < len(name) < MIN_NAME:
        raise SearchError(f"Type at least {MIN_NAME} letters of the name.")
    return name


def like_pattern(name: str) -> str:
    """``'50%_o\\'`` → ``'%50\\%\\_o\\\\%'``: lower-cased, what the user typed taken
    literally (``\\`` is the escape character), matched anywhere in the name."""
    escaped = name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class Row:
    household_id: int
    head_name: str
    msisdn: str  # masked
    village: str
    county: str
    surveyed_at: datetime | None
    round: str | None
    poor: bool | None
    vulnerable: bool | None
    severe: bool | None
    score: str | None  # "7/18"

    @property
    def status(self) -> str:
        return status_text(self.poor, self.vulnerable, self.severe)


@dataclass(frozen=True)
class Results:
    rows: list[Row]
    page: int
    has_next: bool


def search(
    db: Session,
    *,
    name: str = "",
    area_id: int | None = None,
    visible: Sequence[int] | None,
    order: str = "recent",
    page: int = 1,
) -> Results:
    """Households whose head's name contains ``name`` (any case) in ``area_id``
    (a village, or a county or province: the villages below), within ``visible``
    (``domain.console_users.visible_areas``; None: everywhere), ``PAGE_SIZE`` a
    page (1..``MAX_PAGE``), newest survey first (``order="recent"``) or by name.

    Raises ``SearchError`` for a bad name, for neither a name nor an area, and
    for a search too broad to finish in time. An area outside ``visible`` finds nothing.
    """
    name = clean_name(name)
    if not name and area_id is None:
        raise SearchError("Type part of the head's name, or choose an area.")
    if order not in ORDERS:
        order = "recent"
    page = min(max(page, 1), MAX_PAGE)
    scope: list[int] | None = None if visible is None else list(visible)
    if area_id is not None:
        under = areas_under(db, [area_id])
        scope = under if scope is None else sorted(set(under) & set(scope))
    village, county = aliased(Area), aliased(Area)
    s = HouseholdSurvey
    query = (
        select(Household.id, Household.head_name, Household.head_msisdn, village.name)
        .add_columns(county.name, s.completed_at, SurveyRound.name)
        .add_columns(s.mpi_poor, s.mpi_vulnerable, s.mpi_severe, s.mpi_score)
        .join(village, village.id == Household.area_id)
        .outerjoin(county, county.id == village.parent_id)
        .outerjoin(s, and_(s.household_id == Household.id, s.is_latest.is_(True)))
        .outerjoin(SurveyRound, SurveyRound.id == s.round_id)
    )
    if name:
        # Exactly the indexed expression, so PostgreSQL's trigram index serves it.
        query = query.where(func.lower(Household.head_name).like(like_pattern(name), escape="\\"))
    if scope is not None:
        query = query.where(Household.area_id.in_(scope))
    if order == "name":
        query = query.order_by(func.lower(Household.head_name), Household.id)
    else:
        query = query.order_by(s.completed_at.desc().nulls_last(), Household.id.desc())
    query = query.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
    found = _run_bounded(db, query)
    rows = [
        Row(r[0], r[1], mask_msisdn(r[2]) if r[2] else "—", r[3], r[4] or "", *r[5:])
        for r in found[:PAGE_SIZE]
    ]
    return Results(rows, page, len(found) > PAGE_SIZE and page < MAX_PAGE)


def _run_bounded(db: Session, query: Any) -> Sequence[Any]:
    """Run ``query``, on PostgreSQL within ``SEARCH_TIMEOUT_MS``."""
    if db.get_bind().dialect.name != "postgresql":
        return db.execute(query).all()
    try:
        db.execute(text(f"SET LOCAL statement_timeout = {int(SEARCH_TIMEOUT_MS)}"))
        found = db.execute(query).all()
        db.execute(text("SET LOCAL statement_timeout TO DEFAULT"))
        return found
    except OperationalError as exc:  # psycopg's QueryCanceled
        db.rollback()
        if "statement timeout" not in str(exc):
            raise
        raise SearchError(
            "That search matches too many households to list in time: type more of "
            "the name, or choose a county or village."
        ) from exc


# -- the area picker -------------------------------------------------------------------


@dataclass(frozen=True)
class AreaPicker:
    """Where the search is (``path``, top first; empty: every visible area) and the
    areas one level down to narrow it (``options``): a drill-down, never a list of
    every village."""

    chosen: int | None
    path: list[tuple[int, str]]
    options: list[tuple[int, str]]


def area_picker(db: Session, visible: Sequence[int] | None, area_id: int | None) -> AreaPicker:
    """The picker at ``area_id`` (ignored when unknown or not visible)."""
    allowed = None if visible is None else set(visible)
    area = db.get(Area, area_id) if area_id is not None else None
    if area is None or (allowed is not None and area.id not in allowed):
        if allowed is None:
            top = select(Area.id, Area.name).where(Area.parent_id.is_(None))
        else:
            top = select(Area.id, Area.name).where(
                Area.id.in_(allowed), Area.parent_id.is_(None) | Area.parent_id.not_in(allowed)
            )
        return AreaPicker(None, [], [(i, n) for i, n in db.execute(top.order_by(Area.name))])
    path: list[tuple[int, str]] = []
    step: Area | None = area
    while step is not None and (allowed is None or step.id in allowed):
        path.insert(0, (step.id, step.name))
        step = step.parent
    below = select(Area.id, Area.name).where(Area.parent_id == area.id).order_by(Area.name)
    return AreaPicker(area.id, path, [(i, n) for i, n in db.execute(below)])

"""The poverty picture per area and survey round, pre-aggregated for the console.

``refresh`` sums, for each village and round, a fixed set of *measures* over the
households whose last survey in the round is in that village, then adds each
level up (village → county → province) and stores one ``AreaStatistic`` row per
area and round. A measure is a count of households and of people (household
members): ``figures["poor"] == [households, people]``. Every figure the console
shows is a ratio of two such sums, so an area's figures are exactly the sum of
its children's, and a page at national scale reads a few dozen rows instead of
millions of surveys (``AreaFigures`` turns them into H, A, MPI…).

The MPI figures are people-weighted, as the global MPI is (``domain.mpi``):

- ``H = poor people / people``;
- ``A = sum over poor households of members * score / poor people``; scores are
  kept in 18ths (weights 1/6 and 1/18 make every score a whole number of 18ths),
  so A and ``MPI = H * A`` are exact fractions;
- censored headcount ratio of indicator j: people in poor households deprived in
  j, over all people; its contribution ``w_j * h_j / MPI * 100``.

The guarantees (两不愁三保障 and safe water), the FIES classes and the main
hardship are shares of households; the water ladder is a share of people (JMP
reports population). "Change" compares each household's last survey in a round
with its last survey in the round before (``previous_round``).

Sources: Alkire & Foster (2011) and OPHI Methodological Note 55 for the MPI (see
``domain.mpi``); WHO/UNICEF JMP (2017) for the water ladder; FAO's FIES.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from sqlalchemy import Integer, and_, case, delete, func, insert, literal, not_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from domain import mpi
from models import Area, AreaLevel, AreaStatistic, Household, HouseholdSurvey, SurveyRound
from models.base import utcnow

GUARANTEES = ("food", "clothing", "education", "medical", "housing", "water")
WATER_LEVELS = ("basic", "limited", "unimproved", "surface_water")  # JMP, best first
SANITATION_LEVELS = ("basic", "limited", "unimproved", "open_defecation")
FIES_CLASSES = ("secure", "mild", "moderate", "severe")  # domain.classification
# The household survey's ``hardship`` choices (surveys/household.xlsx).
HARDSHIPS = (
    "illness",
    "disability",
    "education",
    "labour",
    "land",
    "water",
    "skills",
    "capital",
    "disaster",
    "other",
)
#: Each indicator's weight in 18ths (3 for 1/6, 1 for 1/18).
WEIGHT18 = {name: int(weight * 18) for name, weight in mpi.WEIGHTS.items()}

Counts = list[int]  # [households, people]


def _flag(column: Any) -> ColumnElement[int]:
    return case((column, 1), else_=0)


def _measures(cur: Any, prev: Any) -> dict[str, ColumnElement[int]]:
    """Every measure as a per-household SQL value over the round's survey
    ``cur`` and the previous round's ``prev`` (outer-joined: NULL when none)."""
    poor = cur.c.mpi_poor
    score18 = sum((w * _flag(cur.c[f"dep_{name}"]) for name, w in WEIGHT18.items()), literal(0))
    m: dict[str, ColumnElement[int]] = {
        "surveyed": literal(1, Integer),
        "poor": _flag(poor),
        "vulnerable": _flag(cur.c.mpi_vulnerable),
        "severe": _flag(cur.c.mpi_severe),
        "poor_score18": case((poor, score18), else_=0),
    }
    for name in mpi.INDICATORS:
        deprived = cur.c[f"dep_{name}"]
        m[f"deprived:{name}"] = _flag(deprived)
        m[f"censored:{name}"] = case((and_(poor, deprived), 1), else_=0)
    for need in GUARANTEES:
        m[f"lacks:{need}"] = case((cur.c[f"{need}_ok"], 0), else_=1)
    m["guarantees_met"] = _flag(and_(*(cur.c[f"{need}_ok"] for need in GUARANTEES)))
    for level in WATER_LEVELS:
        m[f"water:{level}"] = _flag(cur.c.water_level == level)
    for level in SANITATION_LEVELS:
        m[f"sanitation:{level}"] = _flag(cur.c.sanitation_level == level)
    for fies in FIES_CLASSES:
        m[f"fies:{fies}"] = _flag(cur.c.food_insecurity == fies)
    for cause in HARDSHIPS:
        m[f"hardship:{cause}"] = _flag(cur.c.hardship == cause)
    m["both_rounds"] = _flag(prev.c.household_id.is_not(None))
    m["poor_before"] = _flag(prev.c.mpi_poor)
    m["left_poverty"] = _flag(and_(prev.c.mpi_poor, not_(poor)))
    m["fell_into_poverty"] = _flag(and_(not_(prev.c.mpi_poor), poor))
    return m


MEASURES: tuple[str, ...] = tuple(
    _measures(select(HouseholdSurvey).subquery(), select(HouseholdSurvey).subquery()).keys()
)


def rounds(db: Session) -> list[SurveyRound]:
    """Every survey round, newest first (the order ``current_round_id`` uses)."""
    return list(
        db.scalars(
            select(SurveyRound).order_by(SurveyRound.opened_at.desc(), SurveyRound.id.desc())
        )
    )


def previous_round(db: Session, round_id: int) -> SurveyRound | None:
    """The round opened just before ``round_id``, or None."""
    ordered = rounds(db)
    ids = [r.id for r in ordered]
    if round_id not in ids:
        return None
    at = ids.index(round_id)
    return ordered[at + 1] if at + 1 < len(ordered) else None


def _last_surveys(round_id: int, village_ids: Sequence[int] | None) -> Any:
    """Each household's last survey in the round (its id, household and village)."""
    ranked = (
        select(
            HouseholdSurvey.id,
            HouseholdSurvey.household_id,
            Household.area_id,
            func.row_number()
            .over(
                partition_by=HouseholdSurvey.household_id,
                order_by=(HouseholdSurvey.completed_at.desc(), HouseholdSurvey.id.desc()),
            )
            .label("rank"),
        )
        .join(Household, Household.id == HouseholdSurvey.household_id)
        .where(HouseholdSurvey.round_id == round_id)
    )
    if village_ids is not None:
        ranked = ranked.where(Household.area_id.in_(village_ids))
    sub = ranked.subquery()
    return select(sub.c.id, sub.c.household_id, sub.c.area_id).where(sub.c.rank == 1).subquery()


def village_figures(
    db: Session, round_id: int, village_ids: Sequence[int] | None = None
) -> dict[int, dict[str, Counts]]:
    """``{village id: {measure: [households, people]}}`` for the round, straight
    from the surveys (every village with a household surveyed in it, or only
    ``village_ids``). One aggregate query."""
    last = _last_surveys(round_id, village_ids)
    cur = (
        select(HouseholdSurvey, last.c.area_id)
        .join(last, last.c.id == HouseholdSurvey.id)
        .subquery("cur")
    )
    before = previous_round(db, round_id)
    if before is not None:
        # Households are placed by their village now, in both rounds.
        last_before = _last_surveys(before.id, village_ids)
        prev = (
            select(HouseholdSurvey.household_id, HouseholdSurvey.mpi_poor)
            .join(last_before, last_before.c.id == HouseholdSurvey.id)
            .subquery("prev")
        )
    else:  # nothing to compare with: an empty relation of the same shape
        prev = (
            select(HouseholdSurvey.household_id, HouseholdSurvey.mpi_poor)
            .where(literal(False))
            .subquery("prev")
        )
    measures = _measures(cur, prev)
    columns: list[Any] = [cur.c.area_id]
    for expr in measures.values():
        columns.append(func.sum(expr))
        columns.append(func.sum(expr * cur.c.members))
    query = (
        select(*columns)
        .select_from(cur.outerjoin(prev, prev.c.household_id == cur.c.household_id))
        .group_by(cur.c.area_id)
    )
    out: dict[int, dict[str, Counts]] = {}
    for row in db.execute(query):
        values = [int(v or 0) for v in row[1:]]
        out[row[0]] = {name: [values[2 * i], values[2 * i + 1]] for i, name in enumerate(measures)}
    return out


def add(into: dict[str, Counts], figures: Mapping[str, Sequence[int]]) -> dict[str, Counts]:
    """Add ``figures`` to ``into`` measure by measure (in place; returns ``into``)."""
    for name, (households, people) in figures.items():
        total = into.setdefault(name, [0, 0])
        total[0] += households
        total[1] += people
    return into


def refresh(db: Session, round_ids: Sequence[int] | None = None) -> int:
    """Recompute every area's figures for ``round_ids`` (every round by default)
    from the surveys, replacing what was stored. Returns the number of
    ``AreaStatistic`` rows written. Commits once per round.

    Cost: one aggregate query per round over its surveys (seconds at millions
    of households on PostgreSQL); the console reads the result."""
    ids = [r.id for r in rounds(db)] if round_ids is None else list(round_ids)
    parents = {
        row[0]: (row[1], row[2]) for row in db.execute(select(Area.id, Area.parent_id, Area.level))
    }
    written = 0
    for round_id in ids:
        _one_at_a_time(db)
        villages = village_figures(db, round_id)
        db.execute(delete(AreaStatistic).where(AreaStatistic.round_id == round_id))
        written += _write(db, round_id, _roll_up(villages, parents), parents)
        db.commit()
    return written


def refresh_villages(db: Session, round_id: int, village_ids: Sequence[int]) -> int:
    """Recompute the figures of ``village_ids`` in ``round_id``, then of every
    area above them (as the sum of its children's stored rows). Returns the rows
    written; commits. Cheap: a query over those villages' surveys only."""
    _one_at_a_time(db)
    fresh = village_figures(db, round_id, village_ids)
    chains: dict[int, list[int]] = {}
    parents: dict[int, tuple[int | None, AreaLevel]] = {}
    for area in _with_ancestors(db, village_ids):
        parents[area.id] = (area.parent_id, area.level)
    for village in village_ids:
        chain, node = [], parents.get(village, (None, None))[0]
        while node is not None:
            chain.append(node)
            node = parents[node][0]
        chains[village] = chain
    stale = set(village_ids)
    db.execute(
        delete(AreaStatistic).where(
            AreaStatistic.round_id == round_id, AreaStatistic.area_id.in_(stale)
        )
    )
    written = _write(db, round_id, {v: f for v in village_ids if (f := fresh.get(v))}, parents)
    # Each ancestor, deepest first: the sum of its children as now stored.
    levels = sorted(
        {a for chain in chains.values() for a in chain}, key=lambda a: -_depth(a, parents)
    )
    for area_id in levels:
        total: dict[str, Counts] = {}
        for (figures,) in db.execute(
            select(AreaStatistic.figures).where(
                AreaStatistic.round_id == round_id, AreaStatistic.parent_id == area_id
            )
        ):
            add(total, figures)
        db.execute(
            delete(AreaStatistic).where(
                AreaStatistic.round_id == round_id, AreaStatistic.area_id == area_id
            )
        )
        if total:
            written += _write(db, round_id, {area_id: total}, parents)
    db.commit()
    return written


#: The PostgreSQL advisory lock that makes refreshes take turns.
REFRESH_LOCK = 0x6E67617A  # "ngaz"


def _one_at_a_time(db: Session) -> None:
    """Wait for any other refresh to commit, and hold the turn until this
    transaction ends. Two workers refreshing villages of one county would
    otherwise both delete and insert the county's row (one fails on its key),
    or sum its villages before the other's was written. SQLite writers take
    turns anyway."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REFRESH_LOCK})


def _with_ancestors(db: Session, area_ids: Iterable[int]) -> list[Area]:
    found: dict[int, Area] = {}
    todo = set(area_ids)
    while todo:
        rows = list(db.scalars(select(Area).where(Area.id.in_(todo))))
        found.update({a.id: a for a in rows})
        todo = {a.parent_id for a in rows if a.parent_id is not None and a.parent_id not in found}
    return list(found.values())


def _depth(area_id: int, parents: Mapping[int, tuple[int | None, Any]]) -> int:
    depth, node = 0, parents[area_id][0]
    while node is not None and depth < 10:
        depth, node = depth + 1, parents[node][0]
    return depth


def _roll_up(
    villages: Mapping[int, dict[str, Counts]], parents: Mapping[int, tuple[int | None, Any]]
) -> dict[int, dict[str, Counts]]:
    """Villages' figures plus, for every area above them, the sum of its villages'."""
    out: dict[int, dict[str, Counts]] = defaultdict(dict)
    for village, figures in villages.items():
        node: int | None = village
        hops = 0
        while node is not None and node in parents and hops < 10:
            add(out[node], figures)
            node, hops = parents[node][0], hops + 1
    return dict(out)


#: ``AreaStatistic``'s summary columns: column -> (measure, 0 households or 1 people).
SUMMARY: Mapping[str, tuple[str, int]] = MappingProxyType(
    {
        "people": ("surveyed", 1),
        "poor_households": ("poor", 0),
        "poor_people": ("poor", 1),
        "poor_score18": ("poor_score18", 1),
        "vulnerable_households": ("vulnerable", 0),
        "vulnerable_people": ("vulnerable", 1),
        "severe_households": ("severe", 0),
        "severe_people": ("severe", 1),
        "left_poverty": ("left_poverty", 0),
    }
)


def _write(
    db: Session,
    round_id: int,
    figures: Mapping[int, dict[str, Counts]],
    parents: Mapping[int, tuple[int | None, Any]],
) -> int:
    now = utcnow()
    rows = [
        {
            "round_id": round_id,
            "area_id": area_id,
            "parent_id": parents[area_id][0],
            "level": parents[area_id][1],
            "households": values.get("surveyed", [0, 0])[0],
            "figures": values,
            **{c: values.get(m, [0, 0])[i] for c, (m, i) in SUMMARY.items()},
            "refreshed_at": now,
        }
        for area_id, values in figures.items()
    ]
    for start in range(0, len(rows), 1000):
        db.execute(insert(AreaStatistic), rows[start : start + 1000])
    return len(rows)


@dataclass(frozen=True)
class AreaFigures:
    """One area's (or a set of areas') figures in a round, as ratios.

    Shares are exact ``Fraction``s in [0, 1] (None where the base is 0);
    ``contribution`` is in percent. Built from summed measures (``add``)."""

    figures: Mapping[str, Sequence[int]]

    def count(self, measure: str, people: bool = False) -> int:
        pair = self.figures.get(measure)
        return int(pair[1 if people else 0]) if pair else 0

    @property
    def households(self) -> int:
        return self.count("surveyed")

    @property
    def people(self) -> int:
        return self.count("surveyed", people=True)

    def share(self, measure: str, *, people: bool = False, of: str = "surveyed") -> Fraction | None:
        base = self.count(of, people)
        return Fraction(self.count(measure, people), base) if base else None

    @property
    def headcount(self) -> Fraction | None:  # H
        return self.share("poor", people=True)

    @property
    def intensity(self) -> Fraction | None:  # A
        poor = self.count("poor", people=True)
        return Fraction(self.count("poor_score18", people=True), 18 * poor) if poor else None

    @property
    def mpi(self) -> Fraction | None:  # M0 = H * A
        h, a = self.headcount, self.intensity
        if h is None:
            return None
        return h * a if a is not None else Fraction(0)

    def censored(self, indicator: str) -> Fraction | None:
        return self.share(f"censored:{indicator}", people=True)

    def contribution(self, indicator: str) -> Fraction | None:
        m, h = self.mpi, self.censored(indicator)
        if not m or h is None:
            return None
        return mpi.WEIGHTS[indicator] * h / m * 100

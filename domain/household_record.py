"""One household's record for the console: every survey of it, oldest first, with
its classification in words and what changed since the survey before.

The words come from the classification: ``domain.mpi`` (indicators and their
dimensions, OPHI's names), ``domain.classification`` (the JMP ladders, the FIES
classes, "two no-worries and three guarantees") and the household XLSForm (its
questions' and choices' English labels, from the version each survey was
answered in).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import labels, mpi
from domain.xlsform import Repeat
from models import Area, Cadre, Household, HouseholdSurvey, SurveyRound

LANGUAGE = "en"  # the console's language

INDICATOR_LABELS = labels.INDICATORS
DIMENSION_OF = labels.DIMENSION_OF
#: 两不愁三保障, and safe water: the ``*_ok`` columns.
GUARANTEES = {f"{need}_ok": name for need, name in labels.GUARANTEES.items()}
WATER_LEVELS = labels.WATER_LEVELS
SANITATION_LEVELS = labels.SANITATION_LEVELS
FOOD_INSECURITY = {
    "secure": "Food secure",
    "mild": "Mild food insecurity",
    "moderate": "Moderate food insecurity",
    "severe": "Severe food insecurity",
}
COUNTS = {
    "members": "Members",
    "children_out_of_school": "Children 6-15 out of school",
    "members_able_to_work": "Able to work",
    "members_with_disability": "With a disability",
    "members_chronically_ill": "Chronically ill",
    "members_aged_70_plus": "Aged 70 or over",
}


def status_text(poor: bool | None, vulnerable: bool | None, severe: bool | None) -> str:
    """``"severely poor"``, ``"poor"``, ``"vulnerable"``, ``"not poor"``; ``"—"`` unknown."""
    if poor is None:
        return "—"
    return (
        "severely poor"
        if severe
        else "poor"
        if poor
        else "vulnerable"
        if vulnerable
        else "not poor"
    )


@dataclass(frozen=True)
class Indicator:
    name: str  # mpi.INDICATORS
    label: str
    dimension: str
    deprived: bool


@dataclass(frozen=True)
class Change:
    """What changed since the household's previous survey."""

    score_before: str
    left_poverty: bool
    fell_into_poverty: bool
    gained: list[str]  # indicators now deprived, not before (labels)
    lost: list[str]  # indicators deprived before, not now
    guarantees_now_met: list[str]
    guarantees_now_unmet: list[str]


@dataclass(frozen=True)
class SurveyEntry:
    id: int
    completed_at: datetime
    round: str
    cadre: str
    score: str
    status: str
    poor: bool
    indicators: list[Indicator]
    guarantees: list[tuple[str, bool]]
    water: str
    sanitation: str
    fies_score: int
    food_insecurity: str
    hardship: str
    counts: list[tuple[str, int]]
    answers: list[tuple[str, str]]  # (question, answer) in the form's order
    roster: list[list[tuple[str, str]]]  # one list per member
    change: Change | None  # None for the first survey


@dataclass(frozen=True)
class HouseholdRecord:
    id: int
    head_name: str
    msisdn: str | None  # in full: a view of it must be audited
    village: str
    county: str
    province: str
    registered_at: datetime
    surveys: list[SurveyEntry]  # oldest first


def household_record(
    db: Session, household_id: int, visible: Sequence[int] | None
) -> HouseholdRecord | None:
    """The household and every survey of it, oldest first, each with its
    classification and what changed since the one before; None when there is no
    such household or it lies outside ``visible`` (the caller answers 404 for
    both: a household elsewhere is not revealed to exist)."""
    household = db.get(Household, household_id)
    if household is None or (visible is not None and household.area_id not in set(visible)):
        return None
    village = household.area
    county = village.parent
    province = county.parent if county is not None else None
    rows = db.execute(
        select(HouseholdSurvey, SurveyRound.name, Cadre.name)
        .join(SurveyRound, SurveyRound.id == HouseholdSurvey.round_id)
        .outerjoin(Cadre, Cadre.id == HouseholdSurvey.cadre_id)
        .where(HouseholdSurvey.household_id == household.id)
        .order_by(HouseholdSurvey.completed_at, HouseholdSurvey.id)
    ).all()
    entries: list[SurveyEntry] = []
    before: HouseholdSurvey | None = None
    for survey, round_name, cadre in rows:
        entries.append(_entry(db, survey, round_name, cadre or "—", before))
        before = survey
    return HouseholdRecord(
        household.id,
        household.head_name,
        household.head_msisdn,
        village.name,
        county.name if county is not None else "",
        province.name if province is not None else "",
        household.created_at,
        entries,
    )


def _deprived(survey: HouseholdSurvey) -> dict[str, bool]:
    return {name: bool(getattr(survey, f"dep_{name}")) for name in mpi.INDICATORS}


def _met(survey: HouseholdSurvey) -> dict[str, bool]:
    return {column: bool(getattr(survey, column)) for column in GUARANTEES}


def _change(now: HouseholdSurvey, before: HouseholdSurvey) -> Change:
    dep_now, dep_before = _deprived(now), _deprived(before)
    met_now, met_before = _met(now), _met(before)
    return Change(
        score_before=before.mpi_score,
        left_poverty=before.mpi_poor and not now.mpi_poor,
        fell_into_poverty=now.mpi_poor and not before.mpi_poor,
        gained=[INDICATOR_LABELS[i] for i in mpi.INDICATORS if dep_now[i] and not dep_before[i]],
        lost=[INDICATOR_LABELS[i] for i in mpi.INDICATORS if dep_before[i] and not dep_now[i]],
        guarantees_now_met=[GUARANTEES[g] for g in GUARANTEES if met_now[g] and not met_before[g]],
        guarantees_now_unmet=[
            GUARANTEES[g] for g in GUARANTEES if met_before[g] and not met_now[g]
        ],
    )


def _entry(
    db: Session, s: HouseholdSurvey, round_name: str, cadre: str, before: HouseholdSurvey | None
) -> SurveyEntry:
    deprived = _deprived(s)
    answers, roster, hardship = _answers(db, s)
    return SurveyEntry(
        id=s.id,
        completed_at=s.completed_at,
        round=round_name,
        cadre=cadre,
        score=s.mpi_score,
        status=status_text(s.mpi_poor, s.mpi_vulnerable, s.mpi_severe),
        poor=s.mpi_poor,
        indicators=[
            Indicator(i, INDICATOR_LABELS[i], DIMENSION_OF[i], deprived[i]) for i in mpi.INDICATORS
        ],
        guarantees=[
            (label, ok) for label, ok in zip(GUARANTEES.values(), _met(s).values(), strict=True)
        ],
        water=WATER_LEVELS.get(s.water_level, s.water_level),
        sanitation=SANITATION_LEVELS.get(s.sanitation_level, s.sanitation_level),
        fies_score=s.fies_score,
        food_insecurity=FOOD_INSECURITY.get(s.food_insecurity, s.food_insecurity),
        hardship=hardship,
        counts=[(label, int(getattr(s, column))) for column, label in COUNTS.items()],
        answers=answers,
        roster=roster,
        change=_change(s, before) if before is not None else None,
    )


def _answers(
    db: Session, s: HouseholdSurvey
) -> tuple[list[tuple[str, str]], list[list[tuple[str, str]]], str]:
    """The answers in words, by the labels of the form version they were given in:
    ``(top-level answers, the roster, the hardship)``."""
    from domain.surveys import SurveyError, form_for
    from domain.xlsform import FormError, label

    try:
        form = form_for(db, s.survey_id)
    except (SurveyError, FormError):  # a version that no longer reads: show raw values
        return [(k, str(v)) for k, v in s.answers.items() if k != "member"], [], s.hardship or "—"
    questions = form.questions()

    def words(name: str, value: Any) -> str:
        q = questions[name]
        if name == "village":
            area = db.get(Area, int(value)) if str(value).isdigit() else None
            return area.name if area is not None else str(value)
        names = {c.name: label(c.labels, LANGUAGE, form.default_language) for c in q.choices}
        if isinstance(value, list):
            return ", ".join(names.get(str(v), str(v)) for v in value)
        return names.get(str(value), str(value))

    def ask(name: str) -> str:
        return label(questions[name].labels, LANGUAGE, form.default_language) or name

    top: list[tuple[str, str]] = []
    roster: list[list[tuple[str, str]]] = []
    for node in form.children:
        if isinstance(node, Repeat):
            for item in s.answers.get(node.name) or []:
                roster.append(
                    [
                        (ask(q.name), words(q.name, item[q.name]))
                        for q in node.children
                        if q.name in item
                    ]
                )
        elif node.name in s.answers:
            top.append((ask(node.name), words(node.name, s.answers[node.name])))
    hardship = s.answers.get("hardship")
    return top, roster, words("hardship", hardship) if hardship and "hardship" in questions else "—"

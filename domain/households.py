"""Households: completing a survey (register, classify, keep the history), a
cadre's progress, and a villager's own record.

Completing a draft is idempotent by the draft's key: the same completion run
twice (a repeated callback, a retried job) stores one survey.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, distinct, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.classification import Classification, classify
from domain.content import get_article, programme_rules
from domain.eligibility import matches
from domain.phone import InvalidMsisdn, normalise_msisdn
from domain.subscribers import set_home_area
from domain.surveys import finished, form_for
from models import Area, Cadre, Household, HouseholdSurvey, SurveyDraft
from models.base import utcnow


@dataclass(frozen=True)
class Completed:
    survey_id: int  # the HouseholdSurvey row
    household_id: int
    classification: Classification


def complete_survey(
    db: Session,
    *,
    key: str,
    cadre_id: int,
    survey_id: int,
    round_id: int,
    answers: dict[str, Any],
    household_id: int | None = None,
    region: str = "KE",
) -> Completed:
    """Store a finished household survey and its classification; drop the draft.

    ``answers`` follow the household survey's schema (``surveys/household.xlsx``);
    a new household is registered unless ``household_id`` names the one being
    surveyed again. The household's earlier surveys are kept (``is_latest``
    moves to this one). Raises ``ValueError`` for answers that are incomplete or
    out of the schema. Commits.
    """
    done = db.scalars(select(HouseholdSurvey).where(HouseholdSurvey.draft_key == key)).first()
    if done is not None:  # completed already: the same answer, once
        return Completed(done.id, done.household_id, classify(done.answers))
    form = form_for(db, survey_id)
    answers = finished(form, answers)
    result = classify(answers)
    head_msisdn = _msisdn(answers.get("head_phone"), region)
    household = db.get(Household, household_id) if household_id is not None else None
    if household is None:
        household = Household(area_id=int(answers["village"]), head_name=answers["head_name"])
        db.add(household)
    household.area_id = int(answers["village"])
    household.head_name = answers["head_name"]
    household.head_msisdn = head_msisdn
    if head_msisdn is not None:  # the head's phone gets the campaigns for this village
        set_home_area(db, head_msisdn, household.area_id)
    db.flush()
    db.execute(
        update(HouseholdSurvey)
        .where(HouseholdSurvey.household_id == household.id, HouseholdSurvey.is_latest)
        .values(is_latest=False)
    )
    row = HouseholdSurvey(
        household_id=household.id,
        survey_id=survey_id,
        round_id=round_id,
        cadre_id=cadre_id,
        draft_key=key,
        answers=answers,
        completed_at=utcnow(),
        is_latest=True,
        **classification_columns(result, answers),
    )
    db.add(row)
    try:
        db.flush()  # the draft key is unique: a racing copy that got here first wins
        db.execute(delete(SurveyDraft).where(SurveyDraft.key == key))
        db.commit()
    except IntegrityError:  # a racing copy completed it first
        db.rollback()
        done = db.scalars(select(HouseholdSurvey).where(HouseholdSurvey.draft_key == key)).one()
        return Completed(done.id, done.household_id, classify(done.answers))
    return Completed(row.id, household.id, result)


def classification_columns(result: Classification, answers: dict[str, Any]) -> dict[str, Any]:
    """The ``HouseholdSurvey`` columns for a classification."""
    cols: dict[str, Any] = {f"dep_{name}": bool(v) for name, v in result.deprivations.items()}
    cols.update(
        mpi_score=str(result.score),
        mpi_score_value=float(result.score),
        mpi_poor=result.poor,
        mpi_vulnerable=result.vulnerable,
        mpi_severe=result.severe,
        food_ok=result.food_ok,
        clothing_ok=result.clothing_ok,
        education_ok=result.education_ok,
        medical_ok=result.medical_ok,
        housing_ok=result.housing_ok,
        water_ok=result.water_ok,
        water_level=result.water_level,
        sanitation_level=result.sanitation_level,
        fies_score=result.fies_raw_score,
        food_insecurity=result.food_insecurity,
        members=result.members,
        children_out_of_school=result.children_6_15_out_of_school,
        members_able_to_work=result.members_able_to_work,
        members_with_disability=result.members_with_disability,
        members_chronically_ill=result.members_chronically_ill,
        members_aged_70_plus=result.members_aged_70_plus,
        hardship=answers.get("hardship"),
    )
    return cols


def _msisdn(raw: Any, region: str) -> str | None:
    if not raw:
        return None
    try:
        return normalise_msisdn(str(raw), region)
    except InvalidMsisdn:
        return None


# -- a cadre's progress ----------------------------------------------------------------


@dataclass(frozen=True)
class VillageProgress:
    area_id: int
    village: str
    surveyed: int  # households with a survey in the round
    households: int  # households registered in the village


def progress(db: Session, cadre_id: int, round_id: int) -> list[VillageProgress]:
    """Per village of the cadre: households surveyed this round of those registered."""
    cadre = db.get(Cadre, cadre_id)
    if cadre is None:
        return []
    ids = [a.id for a in cadre.villages]
    registered = dict(
        db.execute(
            select(Household.area_id, func.count())
            .where(Household.area_id.in_(ids))
            .group_by(Household.area_id)
        ).all()
    )
    surveyed = dict(
        db.execute(
            select(Household.area_id, func.count(distinct(Household.id)))
            .join(HouseholdSurvey)
            .where(Household.area_id.in_(ids), HouseholdSurvey.round_id == round_id)
            .group_by(Household.area_id)
        ).all()
    )
    return [
        VillageProgress(a.id, a.name, surveyed.get(a.id, 0), registered.get(a.id, 0))
        for a in cadre.villages
    ]


def households_in(db: Session, area_id: int) -> list[tuple[int, str]]:
    """``[(household id, head's name)]`` in a village, by name (a re-survey list)."""
    rows = db.execute(
        select(Household.id, Household.head_name)
        .where(Household.area_id == area_id)
        .order_by(Household.head_name, Household.id)
    )
    return [(r.id, r.head_name) for r in rows]


# -- a villager's own household ---------------------------------------------------------


@dataclass(frozen=True)
class Record:
    household_id: int
    head_name: str
    village: str
    surveyed_at: datetime
    survey: HouseholdSurvey


def record_for(db: Session, msisdn: str) -> Record | None:
    """The household whose head's phone is ``msisdn``, with its latest survey
    (the newest household when the number heads several); None if none."""
    row = db.execute(
        select(Household, HouseholdSurvey, Area.name)
        .join(HouseholdSurvey, HouseholdSurvey.household_id == Household.id)
        .join(Area, Area.id == Household.area_id)
        .where(Household.head_msisdn == msisdn, HouseholdSurvey.is_latest)
        .order_by(HouseholdSurvey.completed_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    household, survey, village = row
    return Record(household.id, household.head_name, village, survey.completed_at, survey)


def eligible_programmes(
    db: Session, survey: HouseholdSurvey, language: str
) -> list[tuple[int, str]]:
    """Programmes whose eligibility rule the survey meets, as ``[(article id,
    title in language)]``."""
    out: list[tuple[int, str]] = []
    for article_id, rule in programme_rules(db):
        if matches(rule, survey):
            article = get_article(db, article_id, language)
            if article is not None:
                out.append((article_id, article.title))
    return out


@dataclass(frozen=True)
class Exits:
    """Households surveyed in both rounds, by MPI status then and now."""

    both_rounds: int
    poor_before: int
    left_poverty: int  # poor in the earlier round, not poor in the later
    fell_into_poverty: int  # not poor before, poor now


def exits_from_poverty(
    db: Session, earlier_round: int, later_round: int, area_ids: list[int] | None = None
) -> Exits:
    """Compare each household's last survey in ``earlier_round`` with its last in
    ``later_round`` (optionally only households in ``area_ids``, villages)."""

    def last_in(round_id: int) -> Any:
        ranked = select(
            HouseholdSurvey.household_id,
            HouseholdSurvey.mpi_poor,
            func.row_number()
            .over(
                partition_by=HouseholdSurvey.household_id,
                order_by=(HouseholdSurvey.completed_at.desc(), HouseholdSurvey.id.desc()),
            )
            .label("rank"),
        ).where(HouseholdSurvey.round_id == round_id)
        if area_ids is not None:
            ranked = ranked.join(Household).where(Household.area_id.in_(area_ids))
        sub = ranked.subquery()
        return select(sub.c.household_id, sub.c.mpi_poor).where(sub.c.rank == 1).subquery()

    before, after = last_in(earlier_round), last_in(later_round)
    rows = db.execute(
        select(before.c.mpi_poor, after.c.mpi_poor).join(
            after, after.c.household_id == before.c.household_id
        )
    ).all()
    return Exits(
        both_rounds=len(rows),
        poor_before=sum(1 for was, _now in rows if was),
        left_poverty=sum(1 for was, now in rows if was and not now),
        fell_into_poverty=sum(1 for was, now in rows if not was and now),
    )

"""Pre-aggregated area figures (domain.analytics) against the MPI computed
household by household (domain.mpi), on households surveyed through the domain."""

from __future__ import annotations

import random
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db import db_session
from domain import analytics, mpi, surveys
from domain.households import complete_survey
from models import Area, AreaStatistic, Cadre, Household, HouseholdSurvey, SurveyRound
from tests.factories import DEMO_CADRE, household, member


def random_answers(rng: random.Random, village: Area) -> dict[str, Any]:
    """A household with some of everything: deprivations, water, FIES, hardship."""
    roster = [member(rng.randint(18, 70))] + [
        member(
            rng.randint(0, 17),
            **({"m_undernourished": "yes"} if rng.random() < 0.2 else {}),
            **({"m_in_school": "no"} if rng.random() < 0.2 else {}),
        )
        for _ in range(rng.randint(0, 5))
    ]
    for person in roster:
        if person["m_age"] < 6:
            person.pop("m_in_school", None)
    answers: dict[str, Any] = {
        "village": str(village.id),
        "hardship": rng.choice(analytics.HARDSHIPS),
    }
    if rng.random() < 0.5:
        answers |= {"electricity": "no", "cooking_fuel": "wood", "floor": "earth"}
    if rng.random() < 0.4:
        answers |= {
            "water_source": rng.choice(["surface", "unprotected_well", "borehole"]),
            "water_minutes": rng.choice([10, 45]),
        }
    if rng.random() < 0.3:
        answers |= {"assets": ["none"], "child_died": "yes"}
    for item in ("fies_worried", "fies_fewfood", "fies_skipped", "fies_hungry"):
        if rng.random() < 0.3:
            answers[item] = "yes"
    if rng.random() < 0.2:
        answers["clothing"] = "no"
    return household(*roster, **answers)


@pytest.fixture
def population(app: Flask) -> Iterator[tuple[Session, list[Area]]]:
    with app.app_context():
        db = db_session()
        villages = list(db.scalars(select(Area).where(Area.level == "village").order_by(Area.id)))[
            :6
        ]
        yield db, villages
        db.rollback()
        db.execute(delete(AreaStatistic))
        db.execute(delete(HouseholdSurvey))
        db.execute(delete(Household))
        db.execute(delete(SurveyRound).where(SurveyRound.name == "analytics-later"))
        db.commit()


def survey(
    db: Session,
    answers: dict[str, Any],
    *,
    round_id: int,
    household_id: int | None = None,
    key: str,
) -> int:
    cadre = db.scalars(select(Cadre).where(Cadre.msisdn == DEMO_CADRE)).one()
    done = complete_survey(
        db,
        key=key,
        cadre_id=cadre.id,
        survey_id=surveys.current_survey_id(db, "household"),
        round_id=round_id,
        answers=answers,
        household_id=household_id,
    )
    return done.household_id


def expected(db: Session, round_id: int, village_ids: list[int]) -> mpi.MpiResult:
    """domain.mpi over each household's last survey in the round in those villages."""
    rows = db.scalars(
        select(HouseholdSurvey)
        .join(Household)
        .where(HouseholdSurvey.round_id == round_id, Household.area_id.in_(village_ids))
        .order_by(HouseholdSurvey.completed_at, HouseholdSurvey.id)
    ).all()
    last = {row.household_id: row for row in rows}
    return mpi.measure(
        mpi.Household(
            id=str(hid),
            size=row.members,
            deprivations={n: int(getattr(row, f"dep_{n}")) for n in mpi.INDICATORS},
        )
        for hid, row in last.items()
    )


def stored(db: Session, round_id: int, area_id: int) -> analytics.AreaFigures:
    row = db.get(AreaStatistic, (round_id, area_id))
    assert row is not None
    return analytics.AreaFigures(row.figures)


def test_area_figures_equal_the_mpi_household_by_household(population: Any) -> None:
    db, villages = population
    rng = random.Random(7)
    round_id = surveys.current_round_id(db)
    for i in range(60):
        survey(db, random_answers(rng, villages[i % len(villages)]), round_id=round_id, key=f"a{i}")
    written = analytics.refresh(db, [round_id])
    ids = [v.id for v in villages]
    counties = {v.parent_id for v in villages}
    provinces = {db.get(Area, c).parent_id for c in counties}
    assert written == len(villages) + len(counties) + len(provinces)
    for area_id, village_ids in [(v.id, [v.id]) for v in villages] + [
        (c, [v.id for v in villages if v.parent_id == c]) for c in counties
    ]:
        want = expected(db, round_id, village_ids)
        got = stored(db, round_id, area_id)
        assert got.people == want.population
        assert got.headcount == want.headcount
        assert got.intensity == (want.intensity if want.poor_population else None)
        assert got.mpi == want.mpi
        for name in mpi.INDICATORS:
            assert got.censored(name) == want.censored_headcount[name]
            assert got.contribution(name) == want.contribution[name]
    everyone = expected(db, round_id, ids)
    total = analytics.add({}, {})
    for p in provinces:
        analytics.add(total, stored(db, round_id, p).figures)
    assert analytics.AreaFigures(total).mpi == everyone.mpi
    assert 0 < everyone.headcount < 1  # the sample has poor and non-poor people
    assert sum(everyone.contribution[n] or 0 for n in mpi.INDICATORS) == 100


def snapshot(db: Session, round_id: int) -> dict[int, Any]:
    db.expire_all()
    return {
        row.area_id: (row.parent_id, row.level, row.households, row.figures)
        for row in db.scalars(select(AreaStatistic).where(AreaStatistic.round_id == round_id))
    }


def test_refreshing_some_villages_gives_what_a_full_refresh_gives(population: Any) -> None:
    db, villages = population
    rng = random.Random(11)
    round_id = surveys.current_round_id(db)
    for i in range(20):
        survey(db, random_answers(rng, villages[i % 3]), round_id=round_id, key=f"b{i}")
    analytics.refresh(db, [round_id])
    # A new village gets its first household; another household moves village.
    survey(db, random_answers(rng, villages[4]), round_id=round_id, key="new")
    moved = db.scalars(select(Household).where(Household.area_id == villages[0].id)).first()
    assert moved is not None
    survey(
        db, random_answers(rng, villages[1]), round_id=round_id, household_id=moved.id, key="moved"
    )
    analytics.refresh_villages(db, round_id, [villages[4].id, villages[0].id, villages[1].id])
    incremental = snapshot(db, round_id)
    analytics.refresh(db, [round_id])
    assert incremental == snapshot(db, round_id)
    assert incremental[villages[4].id][2] == 1


def test_change_between_rounds_and_the_gaps(population: Any) -> None:
    db, villages = population
    first = surveys.current_round_id(db)
    poor = {
        "electricity": "no",
        "cooking_fuel": "wood",
        "floor": "earth",
        "water_source": "surface",
        "water_minutes": 40,
        "assets": ["none"],
        "child_died": "yes",
        "clothing": "no",
        "hardship": "water",
    }
    v = str(villages[0].id)
    a = survey(db, household(village=v, **poor), round_id=first, key="c1")
    b = survey(db, household(village=v, **poor), round_id=first, key="c2")
    c = survey(db, household(village=v, fies_worried="yes"), round_id=first, key="c3")
    later = surveys.open_round(db, "analytics-later")
    db.commit()
    survey(db, household(village=v, **poor), round_id=later.id, household_id=a, key="d1")
    survey(db, household(village=v), round_id=later.id, household_id=b, key="d2")
    survey(db, household(village=v, **poor), round_id=later.id, household_id=c, key="d3")
    assert analytics.previous_round(db, later.id).id == first  # type: ignore[union-attr]
    analytics.refresh(db)
    full = snapshot(db, later.id)
    analytics.refresh_villages(db, later.id, [villages[0].id])  # as the USSD job does
    assert snapshot(db, later.id) == full
    now = stored(db, later.id, villages[0].id)
    assert [
        now.count(m) for m in ("both_rounds", "poor_before", "left_poverty", "fell_into_poverty")
    ] == [3, 2, 1, 1]
    before = stored(db, first, villages[0].id)
    assert before.count("both_rounds") == 0  # nothing earlier to compare with
    assert before.count("lacks:clothing") == 2 and before.count("lacks:water") == 2
    assert before.count("water:surface_water") == 2 and before.count("water:basic") == 1
    assert before.count("water:surface_water", people=True) == 6  # three members each
    assert before.count("fies:mild") == 1 and before.count("fies:secure") == 2
    assert before.count("hardship:water") == 2 and before.count("hardship:capital") == 1
    assert before.count("guarantees_met") == 1  # mild worry about food is not "food_ok" lost
    assert before.share("lacks:clothing") == Fraction(2, 3)


def test_refreshes_of_one_county_at_once_take_turns(app: Flask, population: Any) -> None:
    """Two workers refreshing villages of the same county at the same moment
    (each survey queues its own job): no key clash, no stale county."""
    import threading

    db, villages = population
    rng = random.Random(5)
    round_id = surveys.current_round_id(db)
    for i in range(12):
        survey(db, random_answers(rng, villages[i % 4]), round_id=round_id, key=f"t{i}")
    analytics.refresh(db, [round_id])
    expected_rows = snapshot(db, round_id)
    db.execute(delete(AreaStatistic))
    db.commit()
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def refresh(village_id: int) -> None:
        try:
            with app.app_context():
                start.wait()
                analytics.refresh_villages(db_session(), round_id, [village_id])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=refresh, args=(v.id,)) for v in villages[:4]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert snapshot(db, round_id) == expected_rows

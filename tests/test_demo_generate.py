"""``flask demo generate``: a synthetic population in PostgreSQL (domain/synthetic.py).

Most tests need PostgreSQL (``real_services``); they share one small population
(20,000 people), generated once, and delete it (areas, rounds and survey row
too) at the end so the other tests see the demo data only. They never use the
``app`` fixture, which empties the household tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import phonenumbers
import psycopg
import pytest
from flask import Flask
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import make_url

from app import create_app
from app.db import db_session
from domain import mpi, synthetic
from domain.classification import food_insecurity_class
from domain.households import exits_from_poverty
from models import (
    Area,
    AreaLevel,
    AreaStatistic,
    Household,
    HouseholdSurvey,
    Subscriber,
    Survey,
    SurveyRound,
)

PEOPLE, SEED = 20_000, 7
HARDSHIPS = set(synthetic.HARDSHIPS)


def generate(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["demo", "generate", "--people", str(PEOPLE), *args])


def test_refuses_sqlite(base_config: dict[str, Any], tmp_path: Path) -> None:
    app = create_app({**base_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    result = generate(app)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "flask demo generate: needs PostgreSQL; DATABASE_URL is SQLite"
        " (set DATABASE_URL=postgresql+psycopg://…)"
    ]


def test_plan_scales_the_tree() -> None:
    full = synthetic.plan(10_000_000, 1)
    assert (full.households, full.village_count, full.area_count) == (2_486_325, 10_000, 10_110)
    assert full.villages == (100,) * 10
    small = synthetic.plan(PEOPLE, 1)
    assert small.village_count >= 20 and small.households >= 10 * small.village_count
    with pytest.raises(ValueError):
        synthetic.plan(999, 1)


def _cleanup(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        db.execute(delete(Subscriber).where(Subscriber.area_id.in_(synthetic.synthetic_areas(db))))
        synthetic.delete_synthetic(db)
        names = [name for name, _ in synthetic.ROUNDS]
        db.execute(delete(SurveyRound).where(SurveyRound.name.in_(names)))
        db.execute(delete(Survey).where(Survey.form_id == synthetic.SURVEY_FORM[0]))
        db.commit()


@pytest.fixture(scope="module")
def population(_session_app: Flask) -> Iterator[Flask]:
    _cleanup(_session_app)
    result = generate(_session_app, "--seed", str(SEED))
    assert result.exit_code == 0, result.output
    assert "area statistics:" in result.output
    yield _session_app
    _cleanup(_session_app)


def _villages(db: Any) -> list[int]:
    ids = synthetic.synthetic_areas(db)
    return list(
        db.scalars(select(Area.id).where(Area.id.in_(ids), Area.level == AreaLevel.VILLAGE))
    )


def _surveys(db: Any) -> list[Any]:
    return list(
        db.execute(
            select(HouseholdSurvey, Household.area_id)
            .join(Household)
            .where(Household.area_id.in_(_villages(db)))
        )
    )


def fingerprint(db: Any) -> str:
    """An md5 of everything generated but the ids."""
    return str(
        db.scalar(
            text(
                "SELECT md5(string_agg(concat_ws('|', v.name, h.head_name, h.head_msisdn,"
                " h.created_at, r.name, s.completed_at, s.is_latest, s.mpi_score, s.water_level,"
                " s.sanitation_level, s.fies_score, s.members, s.hardship, s.food_ok,"
                " s.medical_ok), ',' ORDER BY v.name, h.id, r.name))"
                " FROM household h JOIN area v ON v.id = h.area_id"
                " JOIN household_survey s ON s.household_id = h.id"
                " JOIN survey_round r ON r.id = s.round_id WHERE v.name LIKE 'Synthetic Village %'"
            )
        )
    )


@pytest.mark.real_services
def test_counts_areas_rounds_and_latest(population: Flask) -> None:
    with population.app_context():
        db = db_session()
        the_plan = synthetic.plan(PEOPLE, SEED)
        areas = db.execute(
            select(Area.level, func.count(), func.min(Area.country), func.max(Area.timezone))
            .where(Area.id.in_(synthetic.synthetic_areas(db)))
            .group_by(Area.level)
        ).all()
        levels = {level: count for level, count, _, _ in areas}
        assert levels[AreaLevel.PROVINCE] == 10
        assert levels[AreaLevel.VILLAGE] == the_plan.village_count
        assert {(c, tz) for _, _, c, tz in areas} == {("KE", "Africa/Nairobi")}
        villages = _villages(db)
        per_village = dict(
            db.execute(
                select(Household.area_id, func.count())
                .where(Household.area_id.in_(villages))
                .group_by(Household.area_id)
            ).all()
        )
        assert set(per_village) == set(villages)  # every village has households
        assert sum(per_village.values()) == the_plan.households
        assert 4000 < the_plan.households < 6000  # people / ~4

        rows = _surveys(db)
        by_round: dict[str, int] = defaultdict(int)
        latest: dict[int, list[Any]] = defaultdict(list)
        rounds = {r.id: r.name for r in db.scalars(select(SurveyRound))}
        for survey, _ in rows:
            by_round[rounds[survey.round_id]] += 1
            latest[survey.household_id].append(survey)
        assert set(by_round) == {"synthetic-2025", "synthetic-2026"}
        for name in by_round:  # most households in both rounds
            assert 0.9 * the_plan.households < by_round[name] < 0.97 * the_plan.households
        for surveys in latest.values():
            flagged = [s for s in surveys if s.is_latest]
            assert len(flagged) == 1
            assert flagged[0].completed_at == max(s.completed_at for s in surveys)
        assert len(latest) == the_plan.households

        first = next(i for i, name in rounds.items() if name == "synthetic-2025")
        sizes = [s.members for s, _ in rows if s.round_id == first]
        assert min(sizes) == 1 and max(sizes) <= 12
        assert 3.7 < sum(sizes) / len(sizes) < 4.3


@pytest.mark.real_services
def test_flags_are_coherent(population: Flask) -> None:
    with population.app_context():
        rows = _surveys(db_session())
    assert rows
    for s, _ in rows:
        flags = {name: int(getattr(s, f"dep_{name}")) for name in mpi.INDICATORS}
        score = mpi.deprivation_score(flags, mpi.WEIGHTS)
        assert s.mpi_score == str(score)
        assert s.mpi_score_value == float(score)
        assert s.mpi_poor == (score >= Fraction(1, 3))
        assert s.mpi_vulnerable == (Fraction(1, 5) <= score < Fraction(1, 3))
        assert s.mpi_severe == (score >= Fraction(1, 2))
        assert s.water_ok == (s.water_level == "basic") == (not s.dep_drinking_water)
        assert (s.sanitation_level == "basic") == (not s.dep_sanitation)
        assert s.food_insecurity == food_insecurity_class(s.fies_score)
        assert not s.food_ok or s.fies_score < 4
        assert s.education_ok == (s.children_out_of_school == 0)
        assert not s.dep_school_attendance or s.children_out_of_school >= 1
        assert 0 <= s.children_out_of_school < s.members or s.children_out_of_school == 0
        for count in (
            s.members_able_to_work,
            s.members_with_disability,
            s.members_chronically_ill,
            s.members_aged_70_plus,
        ):
            assert 0 <= count <= s.members
        assert s.members_able_to_work + s.members_aged_70_plus <= s.members
        assert s.hardship in HARDSHIPS
        assert s.answers == {"synthetic": True}
        assert s.cadre_id is None
        assert s.draft_key.startswith("synthetic:")


@pytest.mark.real_services
def test_poverty_is_plausible_varies_and_changes(population: Flask) -> None:
    with population.app_context():
        db = db_session()
        rounds = {r.name: r.id for r in db.scalars(select(SurveyRound))}
        rows = _surveys(db)
        parents = dict(db.execute(select(Area.id, Area.parent_id)).all())
        first = rounds["synthetic-2025"]
        households = [
            mpi.Household(
                id=str(s.household_id),
                size=s.members,
                deprivations={n: int(getattr(s, f"dep_{n}")) for n in mpi.INDICATORS},
            )
            for s, _ in rows
            if s.round_id == first
        ]
        result = mpi.measure(households)
        assert 0.28 < result.headcount < 0.46  # Kenya: H about 0.37
        assert 0.42 < result.intensity < 0.52  # A about 0.45
        poor: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for s, village in rows:
            if s.round_id == first:
                province = parents[parents[village]]
                poor[province][0] += s.members * s.mpi_poor
                poor[province][1] += s.members
        shares = [p / n for p, n in poor.values()]
        assert len(shares) == 10 and max(shares) - min(shares) > 0.2
        change = exits_from_poverty(db, first, rounds["synthetic-2026"], _villages(db))
        assert change.both_rounds > 0.85 * len(households)
        assert change.left_poverty > 2 * change.fell_into_poverty > 0
        # The console's figures were refreshed for both rounds.
        provinces = synthetic.synthetic_areas(db)[:10]
        for name in ("synthetic-2025", "synthetic-2026"):
            stored = db.scalar(
                select(func.sum(AreaStatistic.households)).where(
                    AreaStatistic.round_id == rounds[name], AreaStatistic.area_id.in_(provinces)
                )
            )
            assert stored == sum(1 for s, _ in rows if s.round_id == rounds[name])


@pytest.mark.real_services
def test_heads_have_unique_numbers_no_gateway_can_reach(population: Flask) -> None:
    with population.app_context():
        db = db_session()
        numbers = list(
            db.scalars(select(Household.head_msisdn).where(Household.area_id.in_(_villages(db))))
        )
    given = [n for n in numbers if n]
    assert 0.8 < len(given) / len(numbers) < 0.9
    assert len(set(given)) == len(given)
    for number in given[:500]:
        parsed = phonenumbers.parse(number)
        assert number.startswith("+25419") and len(number) == 13
        assert phonenumbers.is_possible_number(parsed)
        assert not phonenumbers.is_valid_number(parsed)  # no operator's range


@pytest.mark.real_services
def test_refusals_change_nothing(population: Flask) -> None:
    with population.app_context():
        db = db_session()
        before = fingerprint(db)
        village = _villages(db)[0]
    result = generate(population)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "--replace" in result.output

    # Another run holding the lock.
    url = make_url(population.config["DATABASE_URL"]).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (synthetic.LOCK_KEY,))
        result = generate(population, "--replace")
        other.execute("SELECT pg_advisory_unlock(%s)", (synthetic.LOCK_KEY,))
    assert result.exit_code == 2
    assert "another flask demo generate is running" in result.output

    # A real subscriber's home village among the synthetic ones.
    with population.app_context():
        db = db_session()
        db.add(Subscriber(msisdn="+254700000555", area_id=village))
        db.commit()
    result = generate(population, "--replace")
    assert result.exit_code == 2
    assert "subscriber.area_id (1 rows)" in result.output
    with population.app_context():
        db = db_session()
        db.execute(delete(Subscriber).where(Subscriber.msisdn == "+254700000555"))
        db.commit()
        assert fingerprint(db) == before


@pytest.mark.real_services
def test_replace_is_reproducible_by_seed(population: Flask) -> None:
    with population.app_context():
        before = fingerprint(db_session())
        households = db_session().scalar(select(func.count()).select_from(Household))
    result = generate(population, "--seed", str(SEED), "--replace")
    assert result.exit_code == 0, result.output
    assert "replacing: deleted" in result.output
    with population.app_context():
        db = db_session()
        assert fingerprint(db) == before
        assert db.scalar(select(func.count()).select_from(Household)) == households
        assert len(synthetic.synthetic_areas(db)) == synthetic.plan(PEOPLE, SEED).area_count
    result = generate(population, "--seed", str(SEED + 1), "--replace")
    assert result.exit_code == 0, result.output
    with population.app_context():
        assert fingerprint(db_session()) != before

"""Eligibility rules (domain.eligibility): validation, and ``matches`` (one
household) agreeing with ``where`` (SQL, for campaign audiences)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.db import db_session
from domain import surveys
from domain.eligibility import RuleError, matches, validate, where
from domain.households import complete_survey
from models import Cadre, HouseholdSurvey
from tests.factories import DEMO_CADRE, create_completed_household, household, member

CONTENT = Path(__file__).resolve().parent.parent / "demo" / "content.yaml"


def _demo_rules() -> dict[str, dict[str, Any]]:
    """Every ``eligibility:`` in demo/content.yaml, by article slug."""
    doc = yaml.safe_load(CONTENT.read_text(encoding="utf-8"))
    return {
        art["slug"]: art["eligibility"]
        for cats in doc.values()
        for cat in cats
        for art in cat["articles"]
        if art.get("eligibility") is not None
    }


DEMO_RULES = _demo_rules()
#: The issue: "the safe-water scheme for households below basic drinking water;
#: the school-fee waiver for households with a child aged 6–15 out of school".
SAFE_WATER = {"field": "water_level", "in": ["limited", "unimproved", "surface_water"]}
SCHOOL_FEES = {"field": "children_out_of_school", ">=": 1}


def test_the_demo_content_has_the_issues_rules() -> None:
    assert len(DEMO_RULES) >= 8
    assert SAFE_WATER in DEMO_RULES.values()
    assert SCHOOL_FEES in DEMO_RULES.values()


@pytest.mark.parametrize("slug", sorted(DEMO_RULES))
def test_every_demo_rule_is_valid(slug: str) -> None:
    validate(DEMO_RULES[slug])  # raises RuleError otherwise
    assert isinstance(where(DEMO_RULES[slug]), ColumnElement)  # and compiles to SQL


@pytest.mark.parametrize(
    "rule",
    [
        {"not": {"field": "mpi_poor", "is": True}},
        {"any": [{"field": "members", "<": 3}, {"field": "mpi_score_value", ">": 0.5}]},
        {"field": "fies_score", "=": 0},
        {"field": "hardship", "in": ["water", "land"]},
        {"all": [{"not": {"any": [{"field": "food_ok", "is": False}]}}]},
    ],
)
def test_well_formed_rules(rule: dict[str, Any]) -> None:
    validate(rule)  # raises RuleError otherwise
    assert isinstance(where(rule), ColumnElement)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"field": "income", "is": True}, "unknown field 'income'"),
        ({"field": "members", "is": True}, "'is' takes true or false"),
        ({"field": "mpi_poor", "is": "yes"}, "'is' takes true or false"),
        ({"field": "members", ">=": "1"}, "'>=' takes a number"),
        ({"field": "water_level", "=": "basic"}, "'=' takes a number on a numeric field"),
        ({"all": []}, "non-empty list"),
        ({"any": []}, "non-empty list"),
        ({"all": {"field": "mpi_poor", "is": True}}, "non-empty list"),
        ({"field": "mpi_poor", "is": True, "in": [True]}, "one test per field"),
        ({"field": "mpi_poor"}, "one test per field"),
        ({"all": [{"field": "mpi_poor", "is": True}], "field": "members"}, "nothing else"),
        ({"any": [{"field": "mpi_poor", "is": True}], "note": "x"}, "nothing else"),
        ({"not": {"field": "mpi_poor", "is": True}, "field": "members"}, "not takes one rule"),
        ({"field": "water_level", "in": []}, "'in' takes a non-empty list"),
        ({"field": "water_level", "in": "basic"}, "'in' takes a non-empty list"),
        ({"field": "members", "~": 1}, "unknown test '~'"),
        ({}, "a rule is a mapping"),
        ([{"field": "mpi_poor", "is": True}], "a rule is a mapping"),
        ({"not": {}}, r"rule\.not: a rule is a mapping"),
        ({"all": [{"field": "mpi_poor", "is": True}, {"field": "x", "is": 1}]}, r"rule\[1\]"),
    ],
)
def test_malformed_rules(rule: Any, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        validate(rule)


def test_a_boolean_is_not_a_number() -> None:
    """BUG (domain/eligibility.py ``_check``): ``isinstance(True, int)`` is true,
    so ``{"field": "members", ">=": true}`` validates, and ``where`` on it then
    raises SQLAlchemy's ``ArgumentError: Only '=', '!=', 'is_()' … operators can
    be used with None/True/False`` (a campaign audience that cannot be built)."""
    with pytest.raises(RuleError):
        validate({"field": "members", ">=": True})


# -- matches() and where() agree ------------------------------------------------------------

POOR = {
    "member": [member(40, m_schooling=0, m_disability="yes"), member(38, m_schooling=2)],
    "members": 2,
    "child_died": "yes",
    "electricity": "no",
    "cooking_fuel": "wood",
    "floor": "earth",
    "toilet": "none",
    "assets": ["none"],
    "water_source": "surface",
    "water_minutes": 60,
}

HOUSEHOLDS: dict[str, dict[str, Any]] = {
    "ok": {},  # deprived in nothing, piped water in the dwelling
    "tap_45_minutes": {"water_source": "public_tap", "water_minutes": 45},
    "tap_30_minutes": {"water_source": "public_tap", "water_minutes": 30},  # basic (<= 30)
    "unprotected_well": {"water_source": "unprotected_well", "water_minutes": 10},
    "river": {"water_source": "surface", "water_minutes": 20},
    "girl_9_out": {
        "member": [member(40), member(38), member(9, m_in_school="no")],
        "members": 3,
    },
    "boy_15_out": {"member": [member(40), member(15, m_in_school="no")], "members": 2},
    "youth_16": {"member": [member(40), member(16)], "members": 2},  # not asked at 16
    "poor": POOR,
    "hungry": {f: "yes" for f in ("fies_worried", "fies_healthy", "fies_fewfood")}
    | {"fies_skipped": "yes", "fies_ateless": "yes", "meals": 1},
    "uninsured": {"member": [member(40, m_insured="no")], "members": 1},
}


def _create(db: Session) -> dict[str, int]:
    """The households above, by name → household id."""
    return {
        name: create_completed_household(db, **answers).household_id
        for name, answers in HOUSEHOLDS.items()
    }


def _by_sql(db: Session, rule: dict[str, Any]) -> set[int]:
    query = select(HouseholdSurvey.household_id).where(HouseholdSurvey.is_latest, where(rule))
    return set(db.scalars(query))


def _by_python(db: Session, rule: dict[str, Any]) -> set[int]:
    latest = db.scalars(select(HouseholdSurvey).where(HouseholdSurvey.is_latest))
    return {s.household_id for s in latest if matches(rule, s)}


def _names(ids: dict[str, int], found: set[int]) -> set[str]:
    return {name for name, hid in ids.items() if hid in found}


def test_matches_and_where_agree_on_every_demo_rule(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        ids = _create(db)
        for slug, rule in DEMO_RULES.items():
            in_sql, in_python = _by_sql(db, rule), _by_python(db, rule)
            assert in_sql == in_python, (slug, _names(ids, in_sql), _names(ids, in_python))
            for combined in ({"not": rule}, {"all": [rule, SCHOOL_FEES]}, {"any": [rule]}):
                assert _by_sql(db, combined) == _by_python(db, combined), (slug, combined)


def test_safe_water_and_school_fee_audiences(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        ids = _create(db)
        below_basic = {"tap_45_minutes", "unprotected_well", "river", "poor"}
        assert _names(ids, _by_sql(db, SAFE_WATER)) == below_basic
        assert _names(ids, _by_python(db, SAFE_WATER)) == below_basic
        water_ok_false = {"field": "water_ok", "is": False}
        assert _names(ids, _by_sql(db, water_ok_false)) == below_basic
        out_of_school = {"girl_9_out", "boy_15_out"}
        assert _names(ids, _by_sql(db, SCHOOL_FEES)) == out_of_school
        assert _names(ids, _by_python(db, SCHOOL_FEES)) == out_of_school
        assert _names(ids, _by_sql(db, DEMO_RULES["inua-jamii"])) == {"poor"}
        assert _names(ids, _by_sql(db, DEMO_RULES["severe-disability"])) == {"poor"}
        assert _names(ids, _by_sql(db, DEMO_RULES["ng-cdf-bursary"])) == {"poor"}
        assert _names(ids, _by_sql(db, DEMO_RULES["hunger-safety-net"])) == {"hungry"}
        assert _names(ids, _by_sql(db, DEMO_RULES["sha-register"])) == {"uninsured"}


def test_only_the_latest_survey_counts(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        first = create_completed_household(db, water_source="surface", water_minutes=5)
        other = create_completed_household(db)
        assert _by_sql(db, SAFE_WATER) == _by_python(db, SAFE_WATER) == {first.household_id}
        # The first household surveyed again, now with piped water: out of the audience.
        cadre = db.scalars(select(Cadre).where(Cadre.msisdn == DEMO_CADRE)).one()
        complete_survey(
            db,
            key="test:resurvey",
            cadre_id=cadre.id,
            survey_id=surveys.current_survey_id(db, "household"),
            round_id=surveys.current_round_id(db),
            answers=household(village=str(cadre.villages[0].id)),
            household_id=first.household_id,
        )
        assert _by_sql(db, SAFE_WATER) == _by_python(db, SAFE_WATER) == set()
        everyone = {"field": "members", ">=": 1}
        assert _by_sql(db, everyone) == {first.household_id, other.household_id}
        assert len(db.scalars(select(HouseholdSurvey)).all()) == 3  # the history is kept


def test_not_agrees_in_python_and_sql_on_a_missing_hardship(app: Flask) -> None:
    """BUG (domain/eligibility.py): ``hardship`` is nullable (a survey without that
    answer); ``matches`` reads ``not (None in [...])`` as true while SQL's
    ``NOT (hardship IN (...))`` is NULL, so the household is in "My household"'s
    list but not in the campaign audience."""
    rule = {"not": {"field": "hardship", "in": ["capital"]}}
    with app.app_context():
        db = db_session()
        done = create_completed_household(db)
        db.execute(
            update(HouseholdSurvey)
            .where(HouseholdSurvey.id == done.survey_id)
            .values(hardship=None)
        )
        db.commit()
        assert _by_python(db, rule) == {done.household_id}
        assert _by_sql(db, rule) == _by_python(db, rule)


@pytest.mark.parametrize(
    "rule",
    [
        {"field": "water_level", "in": [{"a": 1}]},
        {"field": "water_level", "in": [[1, 2]]},
        {"field": "water_level", "in": [1]},
        {"field": "members", "in": [99999999999999999999999]},
        {"field": "members", "in": ["x"]},
        {"field": "members", "in": [True]},
        {"field": "members", "in": [2.5]},
        {"field": "water_ok", "in": ["yes"]},
    ],
)
def test_in_takes_values_of_the_fields_kind(rule: dict[str, Any]) -> None:
    """A value no column of that kind compares with is refused when the rule is
    checked, not when a database runs it (a 500 on every page showing it)."""
    with pytest.raises(RuleError, match="values of the field's kind"):
        validate(rule)

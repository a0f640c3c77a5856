"""``flask cadre add|list`` and ``flask survey load|round|purge-drafts``.

The ``app`` fixture does not clean cadres, rounds or survey versions: every test
here removes what it made, so the rest of the suite sees only the demo staff.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import delete, func, select

from app.db import db_session
from domain import cadres, surveys
from models import Cadre, CadreRole, Subscriber, Survey, SurveyDraft, SurveyRound
from models.base import utcnow
from tests.factories import DEMO_CADRE

FORMS = Path(__file__).parent / "fixtures" / "forms"
DEMO = Path(__file__).resolve().parent.parent / "demo"
NEW = "+254700000999"
OTHER = "+254700000998"


def _cli(app: Flask, *args: str) -> tuple[int, str]:
    """Run ``flask ARGS``; (exit code, output). Fails on an unexpected exception."""
    result = app.test_cli_runner().invoke(args=list(args), env={"NGAZI_CADRE_PIN": ""})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def _cadre(app: Flask, msisdn: str) -> tuple[str, CadreRole, list[str], str | None] | None:
    """(name, role, village names, PIN hash) of the cadre with ``msisdn``, or None."""
    with app.app_context():
        found = db_session().scalars(select(Cadre).where(Cadre.msisdn == msisdn)).all()
        assert len(found) <= 1
        if not found:
            return None
        c = found[0]
        return c.name, c.role, [a.name for a in c.villages], c.pin_hash


@pytest.fixture
def cleanup(app: Flask) -> Iterator[Flask]:
    """Delete the test cadres and any round 2027 / roster form made by the test."""
    try:
        yield app
    finally:
        with app.app_context():
            db = db_session()
            for cadre in db.scalars(select(Cadre).where(Cadre.msisdn.in_([NEW, OTHER]))):
                db.delete(cadre)  # and its villages (cadre_village rows)
            db.execute(delete(SurveyRound).where(SurveyRound.name == "2027"))
            for survey in db.scalars(select(Survey).where(Survey.form_id == "roster")):
                surveys._forms.pop(survey.id, None)
                db.delete(survey)
            db.commit()
        cadres.clear_cache()


# -- cadres ---------------------------------------------------------------------------------


def test_cadre_add_creates_then_updates(cleanup: Flask) -> None:
    app = cleanup
    add = ["cadre", "add", NEW, "--name", "Test Cadre", "--village", "Kisumu/Ahero"]
    code, out = _cli(app, *add, "--village", "Sauri", "--pin", "1234")
    assert code == 0, out
    assert f"{NEW} Test Cadre (Kisumu/Ahero, Sauri)" in out
    found = _cadre(app, NEW)
    assert found is not None
    name, role, villages, pin_hash = found
    assert (name, role, villages) == ("Test Cadre", CadreRole.CADRE, ["Ahero", "Sauri"])
    assert pin_hash is not None and pin_hash != "1234" and "1234" not in pin_hash
    assert pin_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(pin_hash, "1234")
    with app.app_context():
        assert cadres.cadre_id_for(db_session(), NEW) is not None

    code, out = _cli(
        app,
        *("cadre", "add", "0700000999", "--name", "  Test   Cadre Two "),  # the same number
        *("--village", "Naitiri", "--role", "supervisor", "--pin", "567890"),
    )
    assert code == 0, out
    found = _cadre(app, NEW)
    assert found is not None
    name, role, villages, new_hash = found
    assert (name, role, villages) == ("Test Cadre Two", CadreRole.SUPERVISOR, ["Naitiri"])
    assert new_hash != pin_hash and PasswordHasher().verify(new_hash or "", "567890")
    with app.app_context():
        assert (
            db_session().scalar(select(func.count()).select_from(Cadre).where(Cadre.msisdn == NEW))
            == 1
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [OTHER, "--name", "X", "--village", "Atlantis", "--pin", "1234"],
            "no village 'Atlantis'",
        ),
        (
            [OTHER, "--name", "X", "--village", "Kakamega/Sauri", "--pin", "1234"],
            "no village 'Kakamega/Sauri'",  # Sauri is in Siaya
        ),
        (
            [OTHER, "--name", "X", "--village", "Sauri", "--village", "Nowhere", "--pin", "1234"],
            "no village 'Nowhere'",
        ),
        (["12", "--name", "X", "--village", "Sauri", "--pin", "1234"], "not a phone number"),
        (
            ["+2547000009981234", "--name", "X", "--village", "Sauri", "--pin", "1234"],
            "not a phone number",
        ),
        ([OTHER, "--name", "X", "--village", "Sauri", "--pin", "123"], "a PIN is 4 to 6 digits"),
        ([OTHER, "--name", "X", "--village", "Sauri", "--pin", "12a4"], "a PIN is 4 to 6 digits"),
        ([OTHER, "--name", "   ", "--village", "Sauri", "--pin", "1234"], "1 to 80 characters"),
        ([OTHER, "--name", "X", "--village", "Sauri", "--pin", "1234", "--role", "boss"], "boss"),
    ],
)
def test_cadre_add_rejects_bad_input(cleanup: Flask, args: list[str], message: str) -> None:
    with cleanup.app_context():
        before = db_session().scalar(select(func.count()).select_from(Cadre))
    code, out = _cli(cleanup, "cadre", "add", *args)
    assert code != 0
    assert message in out
    assert _cadre(cleanup, OTHER) is None
    with cleanup.app_context():
        assert db_session().scalar(select(func.count()).select_from(Cadre)) == before


def test_demo_village_names_are_unique() -> None:
    # So there is no ambiguous village name to test "write County/Village" with.
    doc = yaml.safe_load((DEMO / "areas.yaml").read_text(encoding="utf-8"))
    names = [v for p in doc["provinces"] for c in p["counties"] for v in c["villages"]]
    assert len(names) == len(set(names)) == 24


def test_cadre_list_prints_the_demo_cadres(app: Flask) -> None:
    code, out = _cli(app, "cadre", "list")
    assert code == 0, out
    header, *lines = out.splitlines()
    assert header == "id\tmsisdn\tname\trole\tstatus\tvillages"
    rows = [line.split("\t")[1:] for line in lines]
    staff = yaml.safe_load((DEMO / "staff.yaml").read_text(encoding="utf-8"))["cadres"]
    assert [r[0] for r in rows] == [c["msisdn"] for c in staff]
    assert rows == [
        [DEMO_CADRE, "Achieng Odhiambo", "cadre", "active", "Kisumu/Ahero, Kisumu/Kombewa"],
        [
            "+254700000902",
            "Wafula Barasa",
            "supervisor",
            "active",
            "Bungoma/Chwele, Kakamega/Shinyalu",
        ],
    ]


# -- surveys ---------------------------------------------------------------------------------


def test_survey_load_stores_a_version_once(cleanup: Flask) -> None:
    app = cleanup
    path = str(FORMS / "roster.md")
    code, first = _cli(app, "survey", "load", path)
    assert code == 0, first
    assert first.startswith("survey ")
    assert first.rstrip().endswith(": roster version 2024010101 loaded")
    code, second = _cli(app, "survey", "load", path)
    assert code == 0, second
    assert second.split(":")[0] == first.split(":")[0]  # the same row
    assert "version 2024010101 already loaded" in second
    with app.app_context():
        db = db_session()
        [row] = db.scalars(select(Survey).where(Survey.form_id == "roster")).all()
        assert (row.version, row.title) == ("2024010101", "Roster")
        assert row.definition["id_string"] == "roster"
        assert surveys.current_survey_id(db, "roster") == row.id
        assert [n.name for n in surveys.form_for(db, row.id).children][:3] == [
            "head",
            "has_kids",
            "n",
        ]


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("bad_geopoint.md", "where: question type 'geopoint' is not supported"),
        ("bad_repeat_without_count.md", "member: a repeat needs a repeat_count"),
        ("bad_expression.md", "age: expected ) in"),
    ],
)
def test_survey_load_rejects_a_broken_form(cleanup: Flask, fixture: str, message: str) -> None:
    with cleanup.app_context():
        before = db_session().scalar(select(func.count()).select_from(Survey))
    code, out = _cli(cleanup, "survey", "load", str(FORMS / fixture))
    assert code == 1
    assert out.startswith("Error: ") and message in out
    with cleanup.app_context():
        assert db_session().scalar(select(func.count()).select_from(Survey)) == before


def test_survey_load_of_a_missing_file(app: Flask) -> None:
    code, out = _cli(app, "survey", "load", str(FORMS / "no-such-form.md"))
    assert code == 2  # click's usage error
    assert "does not exist" in out


def test_survey_round_makes_the_round_current(cleanup: Flask) -> None:
    app = cleanup
    with app.app_context():
        demo_round = surveys.current_round_id(db_session())
    code, out = _cli(app, "survey", "round", "2027")
    assert code == 0, out
    assert out.rstrip().endswith(": 2027")
    assert _cli(app, "survey", "round", "2027") == (0, out)  # opened once
    with app.app_context():
        db = db_session()
        new = db.scalars(select(SurveyRound).where(SurveyRound.name == "2027")).one()
        assert out == f"round {new.id}: 2027\n"
        assert surveys.current_round_id(db) == new.id != demo_round


def test_survey_purge_drafts(app: Flask) -> None:
    now = utcnow()
    ages = {"old": timedelta(days=15), "just-old": timedelta(days=14, minutes=1)}
    ages |= {"young": timedelta(days=13, hours=23), "new": timedelta(0)}
    with app.app_context():
        db = db_session()
        cadre_id = db.scalars(select(Cadre.id).where(Cadre.msisdn == DEMO_CADRE)).one()
        survey_id = surveys.current_survey_id(db, "household")
        for key, age in ages.items():
            db.add(
                SurveyDraft(
                    key=f"test:{key}",
                    cadre_id=cadre_id,
                    survey_id=survey_id,
                    answers={"head_name": key},
                    position=["has_phone"],
                    question_no=3,
                    created_at=now - age,
                    updated_at=now - age,
                )
            )
        db.commit()
    code, out = _cli(app, "survey", "purge-drafts")
    assert (code, out) == (0, "deleted 2 expired drafts\n")
    with app.app_context():
        left = db_session().scalars(select(SurveyDraft.key).order_by(SurveyDraft.key)).all()
        assert left == ["test:new", "test:young"]
    assert _cli(app, "survey", "purge-drafts") == (0, "deleted 0 expired drafts\n")


def test_survey_load_of_a_file_that_is_no_xlsform_is_a_clean_error(
    app: Flask, tmp_path: Path
) -> None:
    # An MPI matrix given by mistake: pyxform fails inside with a TypeError.
    matrix = Path(__file__).parent / "fixtures" / "mpi-hdr2010-example.csv"
    code, out = _cli(app, "survey", "load", str(matrix))
    assert code == 1 and out.startswith("Error: ") and "not an XLSForm" in out, out
    other = tmp_path / "notes.txt"
    other.write_text("hello", encoding="utf-8")
    code, out = _cli(app, "survey", "load", str(other))
    assert code == 1 and out.startswith("Error: ") and "supported type" in out, out


def test_opening_an_older_round_says_which_is_current(cleanup: Flask) -> None:
    code, out = _cli(cleanup, "survey", "round", "2027")
    assert code == 0 and out.rstrip().endswith(": 2027"), out
    code, again = _cli(cleanup, "survey", "round", "2026")
    assert code == 0 and again.rstrip().endswith(": 2026 (current: 2027)"), again


def test_household_reset_pin_lets_the_villager_choose_a_new_one(app: Flask) -> None:
    number = "+254700000444"
    with app.app_context():
        db = db_session()
        db.add(Subscriber(msisdn=number, pin_failures=5, pin_hash="x"))
        db.commit()
    code, out = _cli(app, "household", "reset-pin", "0700000444")
    assert code == 0 and out.startswith(f"{number}: PIN cleared"), out
    with app.app_context():
        sub = db_session().scalars(select(Subscriber).where(Subscriber.msisdn == number)).one()
        assert (sub.pin_hash, sub.pin_failures, sub.pin_locked_until) == (None, 0, None)
    code, out = _cli(app, "household", "reset-pin", "+254700000445")
    assert code == 1 and "no subscriber" in out, out

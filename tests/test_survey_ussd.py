"""A cadre surveys households over USSD: sign-in, the survey, resume, re-survey,
progress, bad answers; and the household head's "My household"."""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import delete, func, select

from app.db import db_session
from domain import surveys
from domain.cadres import add_cadre
from domain.classification import classify
from domain.households import Exits, complete_survey, exits_from_poverty
from models import (
    AreaStatistic,
    Cadre,
    Household,
    HouseholdSurvey,
    OutboundSms,
    Subscriber,
    SurveyDraft,
)
from models.base import utcnow
from tests.conftest import SERVICE_CODE
from tests.factories import DEMO_CADRE, DEMO_PIN, create_completed_household, household, member
from tests.jobs import run_jobs
from tests.survey_screens import keypresses

VILLAGER = "+254700000333"
_sessions = itertools.count(1)


class Phone:
    """One handset: ``dial()`` starts a session, ``press(key)`` answers a screen."""

    def __init__(self, client: FlaskClient, msisdn: str) -> None:
        self.client, self.msisdn = client, msisdn
        self.session_id, self.inputs = "", list[str]()

    def dial(self) -> str:
        self.session_id, self.inputs = f"ATUid_survey_{next(_sessions)}", []
        return self._post()

    def press(self, *keys: str) -> str:
        body = ""
        for key in keys:
            self.inputs.append(key)
            body = self._post()
        return body

    def _post(self) -> str:
        resp = self.client.post(
            "/ussd",
            data={
                "sessionId": self.session_id,
                "serviceCode": SERVICE_CODE,
                "phoneNumber": self.msisdn,
                "networkCode": "63902",
                "text": "*".join(self.inputs),
            },
        )
        assert resp.status_code == 200, resp.status_code
        body = resp.get_data(as_text=True)
        assert body.startswith(("CON ", "END ")), body
        return body


def _signed_in(client: FlaskClient, msisdn: str = DEMO_CADRE) -> tuple[Phone, str]:
    phone = Phone(client, msisdn)
    home = phone.dial()
    if home.startswith("CON Language"):  # the first dial from this number
        home = phone.press("1")
    assert "8 Staff" in home
    assert "Enter your staff PIN" in phone.press("8")
    return phone, phone.press(DEMO_PIN)


def _five_members() -> dict[str, Any]:
    return household(
        member(44, m_name="Akinyi"),
        member(47, m_name="Otieno", m_can_work="yes", m_away="yes"),
        member(12, m_name="Atieno", m_in_school="no"),
        member(4, m_name="Ochieng"),
        member(0, m_name="Baby"),
        head_name="Akinyi Achieng",
        head_phone=VILLAGER,
        water_source="surface",
        water_minutes=50,
        toilet="pit_no_slab",
        cooking_fuel="wood",
        electricity="no",
        assets=["phone"],
        fies_worried="yes",
        fies_fewfood="yes",
        fies_ateless="yes",
        fies_skipped="yes",
        hardship="water",
    )


def _context(app: Flask) -> tuple[Any, list[tuple[int, str]]]:
    db = db_session()
    form = surveys.form_for(db, surveys.current_survey_id(db, "household"))
    cadre = db.scalars(select(Cadre).where(Cadre.msisdn == DEMO_CADRE)).one()
    return form, [(a.id, a.name) for a in cadre.villages]


def test_a_cadre_surveys_five_members_and_the_household_is_classified(
    app: Flask, client: FlaskClient
) -> None:
    phone, home = _signed_in(client)
    assert "Achieng Odhiambo" in home and "Ahero 0/0, Kombewa 0/0" in home
    first = phone.press("2")
    assert first.startswith("CON Q1\nWhich village?\n1 Ahero\n2 Kombewa")
    with app.app_context():
        form, villages = _context(app)
        answers = _five_members() | {"village": str(villages[1][0])}
        keys = keypresses(form, answers, villages)
    assert len(keys) > 50  # five members' questions and the household's
    body = ""
    for i, key in enumerate(keys):
        body = phone.press(key)
        if i + 1 < len(keys):
            assert body.startswith(f"CON Q{i + 2}"), (i, key, body)
    assert body.startswith("CON Household saved: Akinyi Achieng."), body
    assert "MPI poor" in body and "2 New household" in body
    with app.app_context():
        db = db_session()
        saved = db.scalars(select(HouseholdSurvey)).one()
        expected = classify(surveys.finished(form, answers))
        assert saved.answers == surveys.finished(form, answers)
        assert saved.mpi_score == str(expected.score)
        assert saved.mpi_poor is expected.poor is True
        assert saved.water_level == "surface_water" and saved.sanitation_level == "unimproved"
        assert saved.fies_score == 4 and saved.children_out_of_school == 1
        assert saved.dep_drinking_water and saved.dep_cooking_fuel and saved.dep_electricity
        assert saved.is_latest and saved.cadre_id is not None
        hh = db.get(Household, saved.household_id)
        assert hh is not None and hh.head_msisdn == VILLAGER and hh.area_id == villages[1][0]
        assert db.scalar(select(func.count()).select_from(SurveyDraft)) == 0
    run_jobs(app)
    with app.app_context():
        db = db_session()
        # The console's figures know it: the village and the areas above it.
        round_id = surveys.current_round_id(db)
        village = db.get(AreaStatistic, (round_id, villages[1][0]))
        assert village is not None and village.households == 1
        assert village.figures["poor"] == [1, 5]
        county = db.get(AreaStatistic, (round_id, village.parent_id))
        assert county is not None and county.figures == village.figures
    # Back at the staff menu, the village counts it.
    assert "Kombewa 1/1" in phone.press("0")


def test_every_answer_is_kept_and_the_next_dial_continues_exactly_there(
    app: Flask, client: FlaskClient
) -> None:
    phone, _home = _signed_in(client)
    phone.press("2")
    with app.app_context():
        form, villages = _context(app)
        answers = _five_members() | {"village": str(villages[0][0])}
        keys = keypresses(form, answers, villages)
    assert phone.press(*keys[:9]).startswith("CON Q10")
    # The session drops; the same cadre dials again.
    phone2, home = _signed_in(client)
    assert "1 Continue Akinyi Achieng at Q10" in home
    assert "2 New household" in home
    assert phone2.press("1").startswith("CON Q10 Akinyi 1/5")
    body = phone2.press(*keys[9:])
    assert body.startswith("CON Household saved: Akinyi Achieng.")
    with app.app_context():
        saved = db_session().scalars(select(HouseholdSurvey)).one()
        assert saved.answers == surveys.finished(form, answers)


def test_a_draft_survives_a_redis_restart(app: Flask, client: FlaskClient) -> None:
    phone, _home = _signed_in(client)
    phone.press("2", "1", "Wanjiru Kamau")
    app.extensions["ngazi_redis"].flushdb()  # Redis restarted without its data
    _phone2, home = _signed_in(client)
    assert "1 Continue Wanjiru Kamau at Q3" in home


def test_drafts_expire_after_14_days(app: Flask, client: FlaskClient) -> None:
    phone, _home = _signed_in(client)
    phone.press("2", "1", "Old Draft")
    with freeze_time(utcnow() + timedelta(days=14, minutes=1)):
        _phone2, home = _signed_in(client)
        assert "Continue" not in home
        with app.app_context():
            assert surveys.purge_expired_drafts(db_session()) == 1


def test_bad_answers_get_the_same_question_with_a_hint(app: Flask, client: FlaskClient) -> None:
    phone, _home = _signed_in(client)
    assert phone.press("2").startswith("CON Q1\nWhich village?")
    assert phone.press("3").startswith("CON Not on the list.\nWhich village?")
    assert phone.press("").startswith("CON Please answer.\nWhich village?")
    assert phone.press("1,2").startswith("CON Not on the list.\nWhich village?")
    assert phone.press("1").startswith("CON Q2\nName of the household head?")
    assert phone.press("A" * 21).startswith("CON Enter 1 to 20 letters.\nName")
    phone.press("Mary", "2")  # no phone
    assert phone.press("abc").startswith("CON Enter a number.\nHow many people")
    assert phone.press("31").startswith("CON Enter 1 to 30.\nHow many people")
    assert phone.press("0").startswith("CON Q3\nDoes the head")  # not an answer here: back
    phone.press("2", "1", "Mary")
    assert phone.press("121").startswith("CON Enter 0 to 120.\nAge in years?")
    assert phone.press("４２").startswith("CON Enter a number.\nAge in years?")
    assert phone.press("-1").startswith("CON Enter 0 to 120.\nAge in years?")


def test_zero_is_an_answer_where_it_can_be_and_00_goes_back(
    app: Flask, client: FlaskClient
) -> None:
    phone, _home = _signed_in(client)
    phone.press("2", "1", "Mary", "2", "2", "Mary")
    age = phone.press("0")  # a baby: 0 years
    assert age.startswith("CON Q7 Mary 1/2\nSex?"), age
    assert phone.press("0").startswith("CON Q6 Mary 1/2\nAge in years?")  # 0 on sex: back
    screen = phone.press("00")  # on the age screen 00 is back
    assert screen.startswith("CON Q5 1/2\nName of member?"), screen
    assert screen.endswith("\n0 Back")


def test_fewer_members_after_going_back_drops_their_answers(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        form, villages = _context(app)
        one = household(member(30, m_name="Amina")) | {
            "village": str(villages[0][0]),
            "head_name": "Amina",
            "has_phone": "no",
        }
        one.pop("head_phone")
        keys = keypresses(form, one, villages)
    assert keys[:4] == ["1", "Amina", "2", "1"]
    phone, _home = _signed_in(client)
    phone.press("2", "1", "Amina", "2", "2", "Amina", "30")
    assert phone.press("0").startswith("CON Q6 Amina 1/2\nAge")  # sex: 0 is back
    assert phone.press("00").startswith("CON Q5 1/2\nName of member?")  # age: 00 is back
    assert phone.press("0").startswith("CON Q4\nHow many people")
    assert phone.press("1").startswith("CON Q5 1/1\nName of member?")
    assert phone.press(*keys[4:]).startswith("CON Household saved: Amina.")
    with app.app_context():
        saved = db_session().scalars(select(HouseholdSurvey)).one()
        assert saved.members == 1 and len(saved.answers["member"]) == 1
        assert saved.answers == surveys.finished(form, one)


def test_a_household_can_be_surveyed_again_and_keeps_its_history(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        form, villages = _context(app)
        first = household(member(40, m_name="Juma")) | {
            "village": str(villages[0][0]),
            "head_name": "Juma Said",
        }
        again = first | {"electricity": "yes", "water_source": "piped_dwelling"}
        again.pop("water_minutes", None)
        keys_first = keypresses(form, first, villages)
        keys_again = keypresses(form, again, villages)
    phone, _home = _signed_in(client)
    assert phone.press("2", *keys_first).startswith("CON Household saved: Juma Said.")
    staff = phone.press("0")
    assert "Ahero 1/1" in staff and "4 Survey again" in staff
    assert "1 Ahero" in phone.press("4")
    assert "1 Juma Said" in phone.press("1")
    assert phone.press("1").startswith("CON Q1\nWhich village?")
    assert phone.press(*keys_again).startswith("CON Household saved: Juma Said.")
    with app.app_context():
        db = db_session()
        rows = db.scalars(select(HouseholdSurvey).order_by(HouseholdSurvey.id)).all()
        assert [r.household_id for r in rows] == [rows[0].household_id] * 2
        assert [r.is_latest for r in rows] == [False, True]
        assert [r.dep_electricity for r in rows] == [False, False]
        assert db.scalar(select(func.count()).select_from(Household)) == 1
    assert "Ahero 1/1" in phone.press("0")  # one household, surveyed this round


def test_a_villager_never_reaches_staff_screens(client: FlaskClient) -> None:
    phone = Phone(client, VILLAGER)
    phone.dial()
    home = phone.press("1")
    assert "Staff" not in home and "\n8 " not in home
    assert phone.press("8").startswith("CON Invalid choice.")
    # A shortcut straight to the staff PIN screen restarts at home.
    shortcut = Phone(client, VILLAGER)
    shortcut.inputs = ["8", "2468"]
    shortcut.session_id = "ATUid_shortcut_staff"
    assert shortcut._post().startswith("CON Session restarted.")


def test_five_wrong_pins_lock_the_account_and_no_pin_is_kept(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    phone = Phone(client, DEMO_CADRE)
    phone.dial()
    phone.press("1", "8")
    for attempt in range(4):
        assert phone.press("9753").startswith("CON Wrong PIN. Try again."), attempt
    phone._post()  # the same callback again: not a second failure
    assert phone.press("97531").startswith("CON Locked. Try in 15 min.")
    assert phone.press(DEMO_PIN).startswith("CON Locked. Try in 15 min.")
    assert phone.press("12").startswith("CON A PIN is 4-6 digits.")
    redis = app.extensions["ngazi_redis"]
    for key in redis.keys("*"):
        if redis.type(key) == b"string":
            stored = redis.get(key).decode()
            for pin in ("9753", "97531", DEMO_PIN):
                assert pin not in stored, (key, stored)
    assert not any(
        pin in record.getMessage() for record in caplog.records for pin in ("9753", DEMO_PIN)
    )
    with app.app_context():
        cadre = db_session().scalars(select(Cadre).where(Cadre.msisdn == DEMO_CADRE)).one()
        assert cadre.pin_failures == 5 and cadre.pin_locked_until is not None
    with freeze_time(utcnow() + timedelta(minutes=16)):
        again = Phone(client, DEMO_CADRE)
        again.dial()
        again.press("8")
        assert again.press(DEMO_PIN).startswith("CON Achieng Odhiambo")


def test_my_household_behind_a_pin_lists_programmes_and_sends_details(
    app: Flask, client: FlaskClient
) -> None:
    phone = Phone(client, VILLAGER)
    phone.dial()
    phone.press("1")
    none = phone.press("6")
    assert "No household record for this number yet" in none
    phone.press("0")
    with app.app_context():
        create_completed_household(db_session(), **_five_members())
    assert "Choose a 4-6 digit PIN" in phone.press("6")
    assert phone.press("13").startswith("CON A PIN is 4-6 digits.")
    assert "Enter the same PIN again" in phone.press("4321")
    assert phone.press("4322").startswith("CON Not the same PIN.")
    record = phone.press("4321")
    assert record.startswith("CON Akinyi Achieng\nSurveyed "), record
    assert "in Ahero." in record and "You may qualify for:" in record
    assert "1 Hunger Safety Net (HSNP)" in record  # FIES 4 of 8: moderate
    assert "Inua Jamii" not in record  # no one aged 70+ or with a disability
    programme = phone.press("1")
    while "1 Send me the details by SMS" not in programme:
        programme = phone.press("98")
    assert phone.press("1").startswith("CON Hunger Safety Net")
    with app.app_context():
        db = db_session()
        sms = db.scalars(select(OutboundSms)).one()
        assert sms.msisdn == VILLAGER and sms.body.startswith("Hunger Safety Net")
        sub = db.scalars(select(Subscriber).where(Subscriber.msisdn == VILLAGER)).one()
        assert sub.pin_hash and "4321" not in sub.pin_hash
    # The next dial asks for the PIN set.
    later = Phone(client, VILLAGER)
    later.dial()
    assert "Enter your PIN" in later.press("6")
    assert later.press("1111").startswith("CON Wrong PIN. Try again.")
    assert later.press("4321").startswith("CON Akinyi Achieng")


def test_a_pin_in_inputs_dropped_after_a_redis_restart_is_not_kept(
    app: Flask, client: FlaskClient
) -> None:
    phone = Phone(client, DEMO_CADRE)
    phone.dial()
    phone.press("1", "8")
    redis = app.extensions["ngazi_redis"]
    redis.flushdb()  # Redis restarts while the cadre types the PIN
    assert phone.press(DEMO_PIN).startswith("CON Session restarted.")
    stored = b"".join(redis.get(k) or b"" for k in redis.keys("ngazi:ussd:session:*"))
    assert stored and DEMO_PIN.encode() not in stored
    assert phone.press("8").startswith("CON Staff\nEnter your staff PIN")  # goes on
    assert phone.press(DEMO_PIN).startswith("CON Achieng Odhiambo")
    stored = b"".join(redis.get(k) or b"" for k in redis.keys("ngazi:ussd:session:*"))
    assert DEMO_PIN.encode() not in stored


def test_exits_from_poverty_are_counted_between_rounds(app: Flask) -> None:
    poor = {
        "electricity": "no",
        "cooking_fuel": "wood",
        "floor": "earth",
        "water_source": "surface",
        "water_minutes": 40,
        "assets": ["none"],
        "child_died": "yes",
    }
    with app.app_context():
        db = db_session()
        first = surveys.current_round_id(db)
        a = create_completed_household(db, head_name="Stays poor", **poor)
        b = create_completed_household(db, head_name="Leaves poverty", **poor)
        c = create_completed_household(db, head_name="Falls into poverty")
        assert [x.classification.poor for x in (a, b, c)] == [True, True, False]
        cadre = db.scalars(select(Cadre).where(Cadre.msisdn == DEMO_CADRE)).one()
        later = surveys.open_round(db, "2099")
        db.commit()
        try:
            for done, answers in ((a, poor), (b, {}), (c, poor)):
                hh = db.get(Household, done.household_id)
                assert hh is not None
                complete_survey(
                    db,
                    key=f"again:{hh.id}",
                    cadre_id=cadre.id,
                    survey_id=surveys.current_survey_id(db, "household"),
                    round_id=later.id,
                    answers=household(**answers) | {"village": str(hh.area_id)},
                    household_id=hh.id,
                )
            exits = exits_from_poverty(db, first, later.id)
            assert exits == Exits(both_rounds=3, poor_before=2, left_poverty=1, fell_into_poverty=1)
            assert exits_from_poverty(db, first, later.id, area_ids=[-1]).both_rounds == 0
        finally:
            db.execute(delete(HouseholdSurvey))
            db.execute(delete(Household))
            db.delete(later)
            db.commit()


def test_a_cadre_without_villages_is_not_offered_a_survey(app: Flask, client: FlaskClient) -> None:
    number = "+254700000977"
    with app.app_context():
        db = db_session()
        add_cadre(db, msisdn=number, name="No Villages", pin="5678", villages=[])
        db.commit()
    try:
        phone = Phone(client, number)
        phone.dial()
        phone.press("1", "8")
        home = phone.press("5678")
        assert home.startswith("CON No Villages") and "New household" not in home, home
        assert "Survey again" not in home
        assert phone.press("2").startswith("CON Invalid choice.")
    finally:
        with app.app_context():
            db = db_session()
            db.execute(delete(Cadre).where(Cadre.msisdn == number))
            db.commit()

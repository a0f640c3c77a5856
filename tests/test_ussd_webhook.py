"""POST /ussd: the gateway's form fields in, status and body out."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import create_app
from app.db import db_session
from models import OutboundSms, Subscriber
from tests.conftest import SERVICE_CODE

FORM = {
    "sessionId": "ATUid_t",
    "serviceCode": SERVICE_CODE,
    "phoneNumber": "+254700000101",
    "networkCode": "63902",
    "text": "",
}


def _without(*names: str, **changes: str) -> dict[str, str]:
    form = {k: v for k, v in FORM.items() if k not in names}
    form.update(changes)
    return form


CASES = [
    # (name, form, status, body starts with)
    ("first hop", FORM, 200, "CON Language/Lugha/Langue/语言\n1 English"),
    ("no text field on the first hop", _without("text"), 200, "CON Language"),
    ("no networkCode", _without("networkCode"), 200, "CON Language"),
    ("missing sessionId", _without("sessionId"), 400, "Bad request"),
    ("missing phoneNumber", _without("phoneNumber"), 400, "Bad request"),
    ("missing serviceCode", _without("serviceCode"), 400, "Bad request"),
    ("empty sessionId", _without(sessionId="  "), 400, "Bad request"),
    ("not a phone number", _without(phoneNumber="hello"), 400, "Bad request"),
    ("NUL byte in text", _without(text="1\x002"), 400, "Bad request"),
    ("NUL byte in sessionId", _without(sessionId="a\x00b"), 400, "Bad request"),
    ("huge sessionId", _without(sessionId="s" * 10_000), 400, "Bad request"),
    ("10,000 characters of text", _without(text="1*" * 5_000), 200, "END Sorry, that was too long"),
    ("another service code", _without(serviceCode="*384*9999#"), 200, "END This service code"),
    ("text of stars only", _without(text="***"), 200, "CON Session restarted."),
    ("emoji and control characters", _without(text="🌽\x07\u202e"), 200, "CON Session restarted."),
]


@pytest.mark.parametrize(("name", "form", "status", "start"), CASES, ids=[c[0] for c in CASES])
def test_callback_table(
    client: FlaskClient, name: str, form: dict[str, str], status: int, start: str
) -> None:
    resp = client.post("/ussd", data=form)
    body = resp.get_data(as_text=True)
    assert (resp.status_code, body[: len(start)]) == (status, start)
    assert resp.mimetype == "text/plain"


def test_a_bad_phone_number_is_not_echoed(client: FlaskClient) -> None:
    # Found by tests/test_properties_ussd.py: the reason repeated the whole field.
    resp = client.post("/ussd", data=_without(phoneNumber="x" * 10_000))
    assert (resp.status_code, resp.get_data(as_text=True)) == (
        400,
        "Bad request: phoneNumber is not a phone number",
    )


def test_a_space_after_an_input_does_not_restart_the_session(dial: Any) -> None:
    # Found by tests/test_properties_ussd.py: the history was stripped as a whole,
    # so "1*1 " was kept as "1*1" and the next hop's "1*1 *1" looked like another
    # history, restarting at home.
    for text in ("", "1", "1*1 "):
        dial("space", text)
    body = dial("space", "1*1 *1").get_data(as_text=True)
    assert body.startswith("CON Cash transfers\n"), body


def test_get_is_not_allowed(client: FlaskClient) -> None:
    assert client.get("/ussd").status_code == 405


def test_json_body_instead_of_form_is_a_400(client: FlaskClient) -> None:
    assert client.post("/ussd", json=FORM).status_code == 400


def test_phone_formats_are_one_subscriber(app: Flask, dial: Any) -> None:
    for i, phone in enumerate(["254700000109", " 254700000109", "0700000109", "+254700000109"]):
        assert dial(f"fmt{i}", "", msisdn=phone).status_code == 200
    with app.app_context():
        assert db_session().scalars(select(Subscriber.msisdn)).all() == ["+254700000109"]


def test_language_choice_is_remembered_for_the_next_dial(dial: Any) -> None:
    dial("a", "")
    assert (
        dial("a", "2").get_data(as_text=True).startswith("CON Menyu kuu ya Ngazi\n1 Sera na mafao")
    )
    nxt = dial("b", "").get_data(as_text=True)
    assert nxt.startswith("CON Menyu kuu ya Ngazi")


def test_language_can_be_changed_from_the_main_menu(dial: Any) -> None:
    dial("a", "")
    dial("a", "1")
    assert dial("a", "1*7").get_data(as_text=True).startswith("CON Language\n1 English")
    assert dial("a", "1*7*3").get_data(as_text=True).startswith("CON Menu principal Ngazi")


def test_retry_of_the_same_hop_gets_the_same_answer_and_no_second_sms(
    app: Flask, dial: Any, to_sms_option: Any
) -> None:
    text = "*".join([*to_sms_option("r", ["1", "1", "1", "1"]), "1"])
    first = dial("r", text).get_data(as_text=True)
    again = dial("r", text).get_data(as_text=True)
    assert first == again
    assert "We are sending this to your phone by SMS." in first
    with app.app_context():
        assert db_session().scalar(select(func.count()).select_from(OutboundSms)) == 1


def test_late_copy_of_an_earlier_hop_gets_the_current_screen(dial: Any) -> None:
    dial("late", "")
    dial("late", "1")
    current = dial("late", "1*1").get_data(as_text=True)
    assert dial("late", "1").get_data(as_text=True) == current


def test_concurrent_copies_of_one_callback_have_one_effect(
    app: Flask, client: FlaskClient, dial: Any, to_sms_option: Any
) -> None:
    send = "*".join([*to_sms_option("c", ["1", "1", "1", "1"]), "1"])
    answers: list[str] = []
    barrier = threading.Barrier(6)

    def post() -> None:
        c = app.test_client()
        barrier.wait()
        form = dict(FORM, sessionId="c", text=send)
        answers.append(c.post("/ussd", data=form).get_data(as_text=True))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(answers)) == 1 and answers[0].startswith("CON ")
    with app.app_context():
        assert db_session().scalar(select(func.count()).select_from(OutboundSms)) == 1


def test_shortcut_dial_walks_the_path(dial: Any) -> None:
    body = dial("sc", "1*2").get_data(as_text=True)
    # *384*1234*1*2#: Policies & benefits, second category (English for a new caller).
    assert body.startswith("CON Health insurance\n1 ")


def test_shortcut_dial_with_an_invalid_step_lands_home_with_a_notice(dial: Any) -> None:
    body = dial("sc2", "3*1*2", msisdn="+254700000108").get_data(as_text=True)
    assert body.startswith("CON Session restarted.\n1 Policies & benefits")


def test_state_lost_mid_session_restarts_at_home_with_a_notice(app: Flask, dial: Any) -> None:
    dial("lost", "")
    dial("lost", "1")
    dial("lost", "1*1")
    app.extensions["ngazi_redis"].flushdb()  # Redis restarted
    body = dial("lost", "1*1*1").get_data(as_text=True)
    assert body.startswith("CON Session restarted.\n1 Policies & benefits")
    # ...and the session goes on from there.
    assert dial("lost", "1*1*1*4").get_data(as_text=True).startswith("CON Health advice\n1 ")


def test_a_returning_caller_needs_no_database(
    app: Flask, dial: Any, base_config: dict[str, Any]
) -> None:
    dial("first", "")
    dial("first", "1")  # English, the default language: still a choice to remember
    dial("again", "")
    dial("again", "7")
    dial("again", "7*2")  # Kiswahili, stored in the database and cached in Redis
    # The same Redis, a database that is down: the returning caller is served.
    down = create_app({**base_config, "DATABASE_URL": "postgresql+psycopg://x@127.0.0.1:1/none"})
    down.extensions["ngazi_redis"] = app.extensions["ngazi_redis"]
    down.extensions["ngazi_ussd_store"] = app.extensions["ngazi_ussd_store"]
    form = dict(FORM, sessionId="second", text="")
    body = down.test_client().post("/ussd", data=form).get_data(as_text=True)
    assert body.startswith("CON Menyu kuu ya Ngazi")
    form["text"] = "7"
    body = down.test_client().post("/ussd", data=form).get_data(as_text=True)
    assert body.startswith("CON Lugha\n")


@pytest.mark.parametrize(
    "override",
    [
        {"REDIS_URL": "redis://127.0.0.1:1/0"},  # nothing listens on port 1
        {"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
    ],
    ids=["redis down", "database down"],
)
def test_backing_service_down_answers_busy_not_500(
    app: Flask,  # empties Redis: the caller is not cached
    base_config: dict[str, Any],
    override: dict[str, str],
) -> None:
    broken = create_app({**base_config, **override})
    started = time.monotonic()
    resp = broken.test_client().post("/ussd", data=FORM)
    assert time.monotonic() - started < 1.0  # the gateway is not kept waiting
    assert (resp.status_code, resp.get_data(as_text=True)) == (
        200,
        "END Service busy, please try again in a few minutes.",
    )
    health = broken.test_client().get("/healthz")
    assert health.status_code == 503 and health.get_json()["status"] == "degraded"


@pytest.mark.parametrize("language", ["1", "2", "3", "4"])
def test_more_is_accepted_wherever_it_is_offered(dial: Any, language: str) -> None:
    """Walk every page of a long article, press 98 past the end, then keep pressing
    98 and 0: whenever a screen offers "98", the next 98 is not an invalid choice."""
    invalid = {
        "1": "Invalid choice",
        "2": "Chaguo si sahihi",
        "3": "Choix invalide",
        "4": "选择无效",
    }[language]
    more = {"1": "\n98 More", "2": "\n98 Zaidi", "3": "\n98 Suite", "4": "\n98 更多"}[language]
    inputs = [language, "1", "1", "1"]
    body = ""
    for text in ["*".join(inputs[:i]) for i in range(len(inputs) + 1)]:
        body = dial(f"more{language}", text).get_data(as_text=True)
    for key in ["98"] * 6 + ["0"] * 3 + ["98"] * 6:
        offered = more in body
        inputs.append(key)
        body = dial(f"more{language}", "*".join(inputs)).get_data(as_text=True)
        if key == "98" and offered:
            assert not body.startswith(f"CON {invalid}"), inputs
    assert body.startswith("CON ")

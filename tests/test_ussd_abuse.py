"""Regressions from trying to break the webhook: each case once failed."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import create_app
from app.db import db_session
from domain.sms import queue_sms
from models import OutboundSms, Subscriber
from tests.conftest import SERVICE_CODE

INVALID = "CON Invalid choice.\n"
RESTARTED = "CON Session restarted.\n1 Policies & benefits"


def _walk(dial: Any, session: str, inputs: list[str], msisdn: str = "+254700000101") -> str:
    body = ""
    for i in range(len(inputs) + 1):
        body = dial(session, "*".join(inputs[:i]), msisdn=msisdn).get_data(as_text=True)
    return body


def _sms_count(app: Flask) -> int:
    with app.app_context():
        return int(db_session().scalar(select(func.count()).select_from(OutboundSms)) or 0)


@pytest.mark.parametrize("key", ["²", "①", "٣", "３", "-1", "99999999999999999999", "1.5"])
def test_odd_digits_are_an_invalid_choice_not_a_500(dial: Any, key: str) -> None:
    _walk(dial, "digits", ["1", "1"])
    resp = dial("digits", f"1*1*{key}")
    assert resp.status_code == 200 and resp.get_data(as_text=True).startswith(INVALID)
    # ...and the session goes on.
    assert dial("digits", f"1*1*{key}*0").get_data(as_text=True).startswith("CON Ngazi main menu")


def test_leading_zeros_pick_the_same_option(dial: Any) -> None:
    _walk(dial, "zeros", ["1"])
    assert dial("zeros", "1*01").get_data(as_text=True).startswith("CON Policies & benefits")
    assert dial("zeros", "1*01*0001").get_data(as_text=True).startswith("CON Cash transfers")
    assert dial("zeros", "1*01*0001*000").get_data(as_text=True).startswith(INVALID)


def _race(app: Flask, session: str, texts: list[str]) -> list[tuple[int, str]]:
    """Post one callback per text at the same moment; return (status, body) each."""
    results: list[tuple[int, str]] = []
    barrier = threading.Barrier(len(texts))

    def post(text: str) -> None:
        client = app.test_client()
        barrier.wait()
        form = {
            "sessionId": session,
            "serviceCode": SERVICE_CODE,
            "phoneNumber": "+254700000101",
            "networkCode": "63902",
            "text": text,
        }
        resp = client.post("/ussd", data=form)
        results.append((resp.status_code, resp.get_data(as_text=True)))

    threads = [threading.Thread(target=post, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_racing_callbacks_with_different_texts_never_500(app: Flask, dial: Any) -> None:
    texts = ["1", "1*1", "1*1*1", "1*1*1*98", "1*1*1*98*98", "1*1*1*98*98*0"]
    for round_ in range(5):
        dial(f"race{round_}", "")
        results = _race(app, f"race{round_}", texts)
        assert [status for status, _ in results] == [200] * len(texts)
        assert all(body.startswith(("CON ", "END ")) for _, body in results)


def test_a_session_id_cannot_be_taken_over_by_another_number(app: Flask, dial: Any) -> None:
    _walk(dial, "ab", ["1", "1"], msisdn="+254700000101")
    body = dial("ab", "1*1*00", msisdn="+254700000202").get_data(as_text=True)
    assert body.startswith("END ")
    dial("ab", "1*1*00*7", msisdn="+254700000202")
    dial("ab", "1*1*00*7*3", msisdn="+254700000202")
    with app.app_context():
        langs = dict(db_session().execute(select(Subscriber.msisdn, Subscriber.language)).all())
    assert langs["+254700000101"] == "en"


def test_a_copy_of_a_shortcut_first_callback_is_not_a_lost_session(app: Flask) -> None:
    results = _race(app, "dup-shortcut", ["1*1*1", "1*1*1"])
    assert results[0] == results[1]
    assert results[0][1].startswith("CON Inua Jamii: who qualifies\n")
    assert _sms_count(app) == 0


def test_sms_after_a_restart_is_queued_for_the_new_path(
    app: Flask, dial: Any, to_sms_option: Any
) -> None:
    first = to_sms_option("s4", ["1", "1", "1", "1"])  # the first cash-transfer article
    dial("s4", "*".join([*first, "1"]))
    assert _sms_count(app) == 1
    assert dial("s4", "2").get_data(as_text=True).startswith(RESTARTED)  # history changed
    # The same session goes on from home: Policies, Health insurance, its first article.
    taken = ["2", "1", "2", "1"]
    for i in range(2, len(taken) + 1):
        body = dial("s4", "*".join(taken[:i])).get_data(as_text=True)
    while "1 Send me this by SMS" not in body:
        taken.append("98")
        body = dial("s4", "*".join(taken)).get_data(as_text=True)
    body = dial("s4", "*".join([*taken, "1"])).get_data(as_text=True)
    assert "We are sending this to your phone by SMS." in body
    assert _sms_count(app) == 2


@pytest.mark.parametrize(
    "text", ["1*1*1*" + "1*0*" * 240 + "1", "1*1*1*98*98*1*9", "7*2*99", "4*2*1*1"]
)
def test_a_shortcut_that_is_too_long_or_goes_wrong_has_no_effect(
    app: Flask, dial: Any, text: str
) -> None:
    assert dial("flood", text).get_data(as_text=True).startswith(RESTARTED)
    assert _sms_count(app) == 0
    with app.app_context():
        assert db_session().scalar(select(Subscriber.language)) is None


def test_a_valid_shortcut_runs_its_effects(app: Flask, dial: Any) -> None:
    # Health, Malaria, its first article, to its last page, send (what a caller sees).
    body = dial("sc-sms", "4*2*1*98*98*1").get_data(as_text=True)
    assert "We are sending this to your phone by SMS." in body
    assert _sms_count(app) == 1
    with app.app_context():
        assert db_session().scalar(select(OutboundSms.body)).startswith("Sleep under a treated net")


def test_jump_of_many_inputs_mid_session_restarts(app: Flask, dial: Any) -> None:
    _walk(dial, "jump", ["1"])
    text = "1*" + "*".join(["1", "1", "1", "1", "0"] * 5)
    assert dial("jump", text).get_data(as_text=True).startswith(RESTARTED)
    assert _sms_count(app) == 0


def test_enqueue_is_repeated_until_the_message_leaves(app: Flask) -> None:
    # The row is committed before the job is enqueued; if enqueuing failed, the
    # retried callback must enqueue again (the job claims the row, so it sends once).
    with app.app_context():
        first = queue_sms(db_session(), msisdn="+254700000101", body="x", dedup_key="k1")
        again = queue_sms(db_session(), msisdn="+254700000101", body="x", dedup_key="k1")
    assert (first.created, first.pending, again.created, again.pending) == (True, True, False, True)


@pytest.mark.parametrize(("network", "status"), [("\x00", 400), ("abc", 200), ("639021234", 200)])
def test_network_code_is_checked(
    app: Flask, client: FlaskClient, network: str, status: int
) -> None:
    form = {
        "sessionId": "net",
        "serviceCode": SERVICE_CODE,
        "phoneNumber": "+254700000101",
        "networkCode": network,
        "text": "",
    }
    resp = client.post("/ussd", data=form)
    assert resp.status_code == status
    if status == 200:
        assert resp.get_data(as_text=True).startswith("CON Language")


def test_huge_body_is_refused(client: FlaskClient) -> None:
    form = {
        "sessionId": "big",
        "serviceCode": SERVICE_CODE,
        "phoneNumber": "+254700000101",
        "networkCode": "63902",
        "text": "1" * 200_000,
    }
    assert client.post("/ussd", data=form).status_code == 413


@pytest.mark.parametrize("path", ["/ussd", "/sms/inbound", "/sms/delivery", "/sms/optout"])
def test_huge_body_is_refused_in_plain_words(client: FlaskClient, path: str) -> None:
    # Found by tests/test_properties_ussd.py: the 413 was Werkzeug's HTML page.
    resp = client.post(path, data={"id": "x", "text": "1" * 200_000})
    assert resp.status_code == 413
    assert (resp.mimetype, resp.get_data(as_text=True)) == (
        "text/plain",
        "Bad request: body too large",
    )


def test_twice_encoded_plus_is_the_same_subscriber(app: Flask, dial: Any) -> None:
    dial("enc", "", msisdn="%2B254700000101")
    with app.app_context():
        assert db_session().scalar(select(Subscriber.msisdn)) == "+254700000101"


def test_unmigrated_database_is_unhealthy(base_config: dict[str, Any], tmp_path: Any) -> None:
    app = create_app({**base_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503 and resp.get_json()["database"] is False
    inbox = app.test_client().get("/simulator/inbox?msisdn=%2B254700000101")
    assert inbox.status_code == 503


def test_state_written_by_another_version_restarts_rather_than_fails(app: Flask, dial: Any) -> None:
    from menus.session import KEY_PREFIX

    _walk(dial, "old", ["1", "1"])
    redis = app.extensions["ngazi_redis"]
    redis.set(KEY_PREFIX + "old", b'2|{"msisdn": "+254700000101", "unknown_field": 1}')
    assert dial("old", "1*1*1").get_data(as_text=True).startswith(RESTARTED)
    redis.set(KEY_PREFIX + "old2", b"not json at all")
    assert dial("old2", "1").get_data(as_text=True).startswith(RESTARTED)

"""POST /sms/inbound: stored first, processed by a job (STOP, START, HELP), one
reply per message, in the sender's language."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

import domain.inbound
import domain.job_alerts
import workers
from app.db import db_session
from domain.subscribers import get_or_create_subscriber, opt_out, set_language
from models import InboundSms, InboundStatus, OutboundSms, SmsStatus, Subscriber
from tests.conftest import FIXTURES
from tests.jobs import run_jobs
from workers.inbound import process_inbound

CASES = [
    json.loads(line)
    for line in (FIXTURES / "sms" / "inbound-keywords.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]

#: What each fixture message does, by gateway id: (outcome, reply language).
#: JOBS is a later issue: until then it gets the help text. LANG SW answers in
#: Kiswahili; CANCEL and SOLD of an offer the sender does not have say so.
EXPECTED = {
    "ATXid_kw0": ("opt-out", "en"),
    "ATXid_kw1": ("opt-out", "en"),
    "ATXid_kw2": ("opt-out", "en"),
    "ATXid_kw3": ("opt-out", "sw"),
    "ATXid_kw4": ("opt-out", "fr"),
    "ATXid_kw5": ("opt-out", "zh"),
    "ATXid_kw6": ("opt-in", "en"),
    "ATXid_kw7": ("help", "en"),
    "ATXid_kw8": ("help", "sw"),
    "ATXid_kw9": ("help", "fr"),
    "ATXid_kw10": ("help", "zh"),
    "ATXid_kw11": ("jobs", "en"),  # no job open: it says so
    "ATXid_kw12": ("jobs", "sw"),  # KAZI: answered in the language it is written in
    "ATXid_kw13": ("language", "sw"),
    "ATXid_kw14": ("no-offer", "en"),
    "ATXid_kw15": ("no-offer", "en"),
    "ATXid_kw16": ("no-offer", "en"),
    "ATXid_kw17": ("help", "en"),
    "ATXid_kw18": ("help", "en"),
}

OPTED_OUT = "Ngazi: you will get no more messages from us. Reply START to get them again."
OPTED_IN = "Ngazi: welcome back, you will get our messages again. Reply STOP to stop them."
HELP = (
    "Ngazi: to sell, send like SELL maize 50 kg 30. JOBS for work near you. "
    "Dial *384*1234# for the menu. STOP to stop SMS."
)
REPLY = {
    "opt-out": OPTED_OUT,
    "opt-in": OPTED_IN,
    "help": HELP,
    "language": "Ngazi will write to you in English.",  # the msgid, tagged [sw]
    "no-offer": "You have no offer %(n)s. Check the number in our SMS.",
    "jobs": "Ngazi: no jobs open near you now. Please check again later.",
}
MSISDN = "+254700000300"


def _form(gateway_id: str = "ATXid_t1", text: str = "STOP", **extra: str) -> dict[str, str]:
    return {
        "from": MSISDN,
        "to": "21234",
        "text": text,
        "date": "2026-11-29 09:15:00",
        "id": gateway_id,
        "linkId": "",
        **extra,
    }


def _inbound(app: Flask) -> list[InboundSms]:
    with app.app_context():
        return list(db_session().scalars(select(InboundSms).order_by(InboundSms.id)))


def _replies(app: Flask) -> list[OutboundSms]:
    with app.app_context():
        return list(db_session().scalars(select(OutboundSms).order_by(OutboundSms.id)))


def _subscriber(app: Flask, msisdn: str) -> Subscriber | None:
    with app.app_context():
        return db_session().scalar(select(Subscriber).where(Subscriber.msisdn == msisdn))


@pytest.fixture
def tagged_gettext(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replies read ``[lang] <English>``: which catalog was asked, whatever it holds."""

    def gettext_for(language: str) -> Callable[[str], str]:
        return lambda message: f"[{language}] {message}"

    monkeypatch.setattr(domain.inbound, "gettext_for", gettext_for)
    monkeypatch.setattr(domain.job_alerts, "gettext_for", gettext_for)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
@pytest.mark.usefixtures("tagged_gettext")
def test_fixture_message(app: Flask, client: FlaskClient, case: dict[str, str]) -> None:
    outcome, language = EXPECTED[case["id"]]
    form = {k: case[k] for k in ("from", "to", "id", "date", "linkId", "text")}
    if outcome == "opt-in":
        with app.app_context():
            opt_out(db_session(), case["from"], "sms")
            db_session().commit()
    resp = client.post("/sms/inbound", data=form)
    assert (resp.status_code, resp.get_data(as_text=True), resp.mimetype) == (
        200,
        "OK",
        "text/plain",
    )
    run_jobs(app)
    [row] = _inbound(app)
    assert (row.gateway_id, row.msisdn, row.to, row.text, row.link_id, row.gateway_date) == (
        case["id"],
        case["from"],
        "21234",
        case["text"],
        None,
        "2026-11-29 09:15:00",
    )
    assert (row.status, row.outcome, row.error) == (InboundStatus.PROCESSED, outcome, None)
    assert row.processed_at is not None
    [reply] = _replies(app)
    assert (reply.msisdn, reply.body, reply.status, reply.dedup_key) == (
        case["from"],
        f"[{language}] {REPLY[outcome]}" % {"n": (case["text"].split() or [""])[-1]},
        SmsStatus.SENT,
        f"inbound:{case['id']}",
    )
    subscriber = _subscriber(app, case["from"])
    if outcome in ("help", "no-offer", "jobs"):
        assert subscriber is None  # a question creates no one
    elif outcome == "language":
        assert subscriber is not None
        assert (subscriber.language, subscriber.opted_out) == ("sw", False)
    else:
        assert subscriber is not None
        assert (subscriber.opted_out, subscriber.opt_out_source) == (outcome == "opt-out", "sms")


@pytest.mark.parametrize(
    ("text", "body"), [("STOP", OPTED_OUT), ("start", OPTED_IN), ("help", HELP), ("", HELP)]
)
def test_english_replies(app: Flask, client: FlaskClient, text: str, body: str) -> None:
    client.post("/sms/inbound", data=_form(text=text))
    run_jobs(app)
    assert [r.body for r in _replies(app)] == [body]


@pytest.mark.usefixtures("tagged_gettext")
def test_the_language_the_subscriber_chose_wins_over_the_keywords(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        subscriber_id, _ = get_or_create_subscriber(db_session(), MSISDN)
        set_language(db_session(), subscriber_id, "fr")
    client.post("/sms/inbound", data=_form(text="ACHA"))
    run_jobs(app)
    assert [r.body for r in _replies(app)] == [f"[fr] {OPTED_OUT}"]


def test_raw_message_is_kept_when_processing_fails_and_a_retry_processes_it(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(domain.inbound, "opt_out", broken)
    resp = client.post("/sms/inbound", data=_form(text="STOP now"))
    assert (resp.status_code, resp.get_data(as_text=True)) == (200, "OK")
    run_jobs(app)
    [row] = _inbound(app)
    assert (row.status, row.outcome, row.error, row.text) == (
        InboundStatus.FAILED,
        None,
        "RuntimeError: database on fire",
        "STOP now",
    )
    assert _replies(app) == []
    assert _subscriber(app, MSISDN) is None  # the claim's transaction was rolled back

    monkeypatch.undo()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sms", "retry-inbound"])
    assert (result.exit_code, result.output) == (0, "enqueued 1 inbound messages\n")
    run_jobs(app)
    [row] = _inbound(app)
    assert (row.status, row.outcome, row.error) == (InboundStatus.PROCESSED, "opt-out", None)
    assert [r.body for r in _replies(app)] == [OPTED_OUT]
    subscriber = _subscriber(app, MSISDN)
    assert subscriber is not None and subscriber.opted_out
    assert runner.invoke(args=["sms", "retry-inbound"]).output == "enqueued 0 inbound messages\n"


def test_an_older_start_retried_after_a_later_stop_leaves_the_number_opted_out(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("database blip")

    monkeypatch.setattr(domain.inbound, "opt_in", broken)
    client.post("/sms/inbound", data=_form("ATXid_start", "START"))
    run_jobs(app)
    monkeypatch.undo()
    client.post("/sms/inbound", data=_form("ATXid_stop", "STOP"))
    run_jobs(app)
    assert app.test_cli_runner().invoke(args=["sms", "retry-inbound"]).exit_code == 0
    run_jobs(app)  # the START, processed after the STOP that came later
    outcomes = {row.gateway_id: row.outcome for row in _inbound(app)}
    assert outcomes == {"ATXid_start": "superseded", "ATXid_stop": "opt-out"}
    subscriber = _subscriber(app, MSISDN)
    assert subscriber is not None and subscriber.opted_out
    assert [r.body for r in _replies(app)] == [OPTED_OUT]


def test_a_repeated_stop_is_confirmed_once(app: Flask, client: FlaskClient) -> None:
    client.post("/sms/inbound", data=_form("ATXid_s1", "STOP"))
    client.post("/sms/inbound", data=_form("ATXid_s2", "stop!"))
    run_jobs(app)
    assert [row.outcome for row in _inbound(app)] == ["opt-out", "opt-out"]
    assert [r.body for r in _replies(app)] == [OPTED_OUT]


def test_an_opted_out_number_gets_no_reply_unless_it_asks_for_help(
    app: Flask, client: FlaskClient
) -> None:
    client.post("/sms/inbound", data=_form("ATXid_o1", "STOP"))
    client.post("/sms/inbound", data=_form("ATXid_o2", "hello, any maize buyers?"))
    client.post("/sms/inbound", data=_form("ATXid_o3", "HELP"))
    run_jobs(app)
    outcomes = [row.outcome for row in _inbound(app)]
    assert outcomes == ["opt-out", "ignored", "help"]
    assert [r.body for r in _replies(app)] == [OPTED_OUT, HELP]


def test_redis_down_still_answers_200_and_the_row_waits_for_a_retry(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: Any, **kwargs: Any) -> None:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(workers, "enqueue", down)
    resp = client.post("/sms/inbound", data=_form(text="HELP"))
    assert (resp.status_code, resp.get_data(as_text=True)) == (200, "OK")
    [row] = _inbound(app)
    assert (row.status, row.outcome) == (InboundStatus.RECEIVED, None)
    assert _replies(app) == []

    monkeypatch.undo()
    result = app.test_cli_runner().invoke(args=["sms", "retry-inbound"])
    assert result.output == "enqueued 1 inbound messages\n"
    run_jobs(app)
    assert [(r.status, r.outcome) for r in _inbound(app)] == [(InboundStatus.PROCESSED, "help")]
    assert [r.body for r in _replies(app)] == [HELP]


def test_same_id_posted_twice_is_stored_and_answered_once(app: Flask, client: FlaskClient) -> None:
    for _ in range(2):
        resp = client.post("/sms/inbound", data=_form())
        assert (resp.status_code, resp.get_data(as_text=True)) == (200, "OK")
        run_jobs(app)
    assert [(r.gateway_id, r.status) for r in _inbound(app)] == [
        ("ATXid_t1", InboundStatus.PROCESSED)
    ]
    assert [r.body for r in _replies(app)] == [OPTED_OUT]


def test_processing_twice_replies_once(app: Flask, client: FlaskClient) -> None:
    client.post("/sms/inbound", data=_form(text="HELP"))
    run_jobs(app)
    [row] = _inbound(app)
    with app.app_context():
        assert process_inbound(row.id) == "skipped"  # already processed: nothing
        # Processed again after a failure (e.g. the reply's job could not be
        # enqueued): the reply was queued once and is not queued again.
        db_session().execute(
            update(InboundSms).where(InboundSms.id == row.id).values(status=InboundStatus.FAILED)
        )
        db_session().commit()
        assert process_inbound(row.id) == "help"
        assert process_inbound(-1) == "skipped"  # no such row
    run_jobs(app)
    assert [r.body for r in _replies(app)] == [HELP]


def test_concurrent_posts_of_the_same_id_store_one_row(app: Flask) -> None:
    """Threads, each with its own test client and database session (PostgreSQL
    when DATABASE_URL is set, else SQLite)."""
    n = 8
    barrier = threading.Barrier(n)
    answers: list[tuple[int, str]] = []

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post("/sms/inbound", data=_form(gateway_id="ATXid_race", text="STOP"))
        answers.append((resp.status_code, resp.get_data(as_text=True)))

    threads = [threading.Thread(target=post) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    run_jobs(app)
    assert answers == [(200, "OK")] * n
    assert [(r.gateway_id, r.status, r.outcome) for r in _inbound(app)] == [
        ("ATXid_race", InboundStatus.PROCESSED, "opt-out")
    ]
    assert [r.body for r in _replies(app)] == [OPTED_OUT]


LONG_ID = "A" * 65


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"from": None}, "from is required"),
        ({"from": ""}, "from is required"),
        ({"from": "   "}, "from is required"),
        ({"from": "hello"}, "from is not a phone number"),
        ({"from": "+2547"}, "from is not a phone number"),
        ({"id": None}, "id is required"),
        ({"id": ""}, "id is required"),
        ({"id": LONG_ID}, "id too long"),
        ({"from": "+254700000300\x00"}, "NUL byte in from"),
        ({"id": "ATXid\x00"}, "NUL byte in id"),
        ({"to": "2" * 33}, "to too long"),
        ({"linkId": "L" * 65}, "linkId too long"),
        ({"date": "d" * 33}, "date too long"),
    ],
)
def test_malformed_callback_is_400(
    app: Flask, client: FlaskClient, form: dict[str, str | None], reason: str
) -> None:
    data = {k: v for k, v in {**_form(), **form}.items() if v is not None}
    resp = client.post("/sms/inbound", data=data)
    assert (resp.status_code, resp.get_data(as_text=True), resp.mimetype) == (
        400,
        f"Bad request: {reason}",
        "text/plain",
    )
    assert _inbound(app) == []


def test_any_text_is_stored_nul_bytes_and_all(app: Flask, client: FlaskClient) -> None:
    """Nothing is lost: a NUL (which no text column holds) becomes U+FFFD, and a
    text longer than 255 concatenated parts (3GPP TS 23.040) is cut there."""
    longest = 255 * 153
    for i, text in enumerate(["STOP\x00", "x" * longest, "y" * (longest + 10)]):
        resp = client.post(
            "/sms/inbound", data=_form(f"ATXid_big{i}", text, **{"from": "0700000300"})
        )
        assert resp.status_code == 200
    stored = [(row.msisdn, row.text[:5], len(row.text)) for row in _inbound(app)]
    assert stored == [
        (MSISDN, "STOP\ufffd", 5),
        (MSISDN, "xxxxx", longest),
        (MSISDN, "yyyyy", longest),
    ]
    # The NUL-bearing STOP was acted on like any STOP.
    run_jobs(app)
    assert _subscriber(app, MSISDN) is not None and _subscriber(app, MSISDN).opted_out

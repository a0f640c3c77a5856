"""Properties of ``POST /sms/inbound`` and the job that acts on a message
(issue 7): whatever the gateway posts, the answer is never a 5xx; a 200 means
the raw text is stored as posted (nothing lost); acting on it never raises, and
its reply, if any, is a short SMS.

The examples of one test share the database (the ``app`` fixture resets it once
per test); each posts its own gateway id, and the offers, opt-outs and
languages earlier examples left behind are one more arbitrary state.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.db import db_session
from app.sms import MAX_TEXT
from domain.sms_encoding import parts
from models import InboundSms, InboundStatus, OutboundSms
from workers.inbound import process_inbound

ENDPOINT = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    max_examples=max(10, settings.default.max_examples // 2),
)
#: The longest reply any message may get: the help text or an offer's
#: confirmation is one or two parts; a reply never repeats a long message back.
MAX_REPLY_PARTS = 3

SENDERS = ["+254700000201", "+254700000202", "0700000203", "255754000204"]
_ids = itertools.count()
FORM = "application/x-www-form-urlencoded"

#: Words the parser and the keywords know, to build texts that read as offers
#: and commands as often as they read as nothing.
SELL = ["SELL", "sell", "uza", "Nauza", "vends", "卖", ""]
PRODUCE = ["maize", "mahindi", "maïs", "玉米", "beans", "maharagwe", "tomatoes", "maise", "x"]
UNITS = ["kg", "gunia", "bags", "sacs", "斤", "crates", "tonnes", "debe", "litres", ""]
PRICE_WORDS = ["at", "bei", "à", "每斤", "per kg", "@", "total", "jumla", "", "each"]
CURRENCY = ["KES", "ksh", "fcfa", "元", "/=", "TSh", "", "$"]
PLACES = ["at Ahero", "Kisumu", "kwa Bondo", "在元谋", "", "à Thiès"]
COMMANDS = ["SOLD", "CANCEL", "JOBS", "KAZI", "LANG", "ALERT", "SHARE", "HIDE", "STOP", "START"]
COMMANDS += ["HELP", "ACHA", "AIDE", "退订", "帮助", "INFO", "END"]
NUMBERS = st.one_of(
    st.integers(-10, 10**12).map(str),
    st.decimals(-1000, 10**9, places=3, allow_nan=False).map(str),
    st.sampled_from(["2.500", "30,5", "1,000", "150 000", "5k", "0", "00", "1e9", "²", "①"]),
    st.sampled_from(["elfu tatu", "mille", "三万", "一", "tatu", "deux"]),
)
words = st.lists(st.sampled_from([*SELL, *PRODUCE, *UNITS, *COMMANDS, "?", "--"]), max_size=6)
offer = st.tuples(
    st.sampled_from(SELL),
    st.sampled_from(PRODUCE),
    NUMBERS,
    st.sampled_from(UNITS),
    st.sampled_from(PRICE_WORDS),
    NUMBERS,
    st.sampled_from(CURRENCY),
    st.sampled_from(PLACES),
    words,
).map(lambda t: " ".join([*t[:8], *t[8]]))
command = st.tuples(
    st.sampled_from(COMMANDS), st.one_of(NUMBERS, st.sampled_from([*PRODUCE, "sw", "fr", "zz"]))
).map(" ".join)
sms_text = st.one_of(
    offer,
    command,
    st.lists(st.one_of(NUMBERS, st.text(max_size=6)), max_size=12).map(" ".join),
    st.text(),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=5), st.integers(100, 9000)),
)


def _field(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(valid, st.sampled_from(["", " ", "\x00", "x" * 100]), st.text())


def _gateway_id(suffix: str) -> str:
    # Unique, so each example's message is its own (a repeated id is the same
    # message, stored once: tests/test_sms_inbound.py).
    return f"ATXid_{next(_ids)}{suffix}"


valid_form = st.fixed_dictionaries(
    {
        "id": st.builds(_gateway_id, st.just("")),
        "from": st.sampled_from(SENDERS),
        "to": st.just("21234"),
        "text": sms_text,
    },
    optional={"date": st.just("2026-11-29 10:00:00"), "linkId": st.just("SampleLinkId123")},
)
any_form = st.fixed_dictionaries(
    {
        "id": st.one_of(
            st.builds(_gateway_id, st.text(max_size=8)),
            st.sampled_from(["", " ", "\x00", "x" * 65]),
        ),
        "from": _field(st.sampled_from(SENDERS)),
        "text": sms_text,
    },
    optional={
        "to": _field(st.just("21234")),
        "date": _field(st.just("2026-11-29 10:00:00")),
        "linkId": _field(st.just("SampleLinkId123")),
    },
)
inbound_form = st.one_of(valid_form, valid_form, any_form)


def _process(app: Flask, gateway_id: str) -> tuple[InboundSms, OutboundSms | None]:
    """The stored message, acted on (inline already in the embedded run, by the
    job here when a real queue holds it), and its reply."""
    with app.app_context():
        db = db_session()
        row = db.scalars(select(InboundSms).where(InboundSms.gateway_id == gateway_id)).one()
        if row.status is InboundStatus.RECEIVED:  # queued in a real Redis: run the job
            process_inbound(row.id)
        db.expire_all()
        row = db.scalars(select(InboundSms).where(InboundSms.gateway_id == gateway_id)).one()
        reply = db.scalars(
            select(OutboundSms).where(OutboundSms.dedup_key == f"inbound:{gateway_id}")
        ).first()
        db.expunge_all()
        return row, reply


@ENDPOINT
@given(form=inbound_form)
def test_any_inbound_sms_is_stored_and_answered_sanely(
    client: FlaskClient, app: Flask, form: dict[str, str]
) -> None:
    encoded = urlencode(form)  # as the gateway posts it, so its size is known here
    resp = client.post("/sms/inbound", data=encoded, content_type=FORM)
    body = resp.get_data(as_text=True)
    assert resp.status_code < 500, body
    assert resp.mimetype == "text/plain"
    if len(encoded) > app.config["MAX_CONTENT_LENGTH"]:
        assert (resp.status_code, body) == (413, "Bad request: body too large")
        return
    if resp.status_code != 200:
        assert resp.status_code == 400, resp.status_code
        assert body.startswith("Bad request: ") and len(body) <= 120 and "\n" not in body, body
        return
    row, reply = _process(app, form["id"].strip())
    # Nothing lost: the text as posted (cut at the longest SMS, NUL made visible).
    assert row.text == form["text"][:MAX_TEXT].replace("\x00", "\ufffd")
    # Acting on it did not raise (the job would have marked it failed).
    assert (row.status, row.error) == (InboundStatus.PROCESSED, None), row.error
    assert row.outcome
    event(f"outcome: {row.outcome}")
    note(f"outcome {row.outcome}: {reply.body if reply is not None else None!r}")
    if reply is not None:
        assert isinstance(reply.body, str) and reply.body.strip()
        assert "\x00" not in reply.body
        assert 1 <= parts(reply.body) <= MAX_REPLY_PARTS, reply.body


@settings(ENDPOINT, max_examples=max(5, settings.default.max_examples // 10))
@given(fields=st.dictionaries(st.text(max_size=10), st.text(), max_size=8))
def test_any_form_on_every_sms_callback_is_never_a_5xx(
    client: FlaskClient, fields: dict[str, Any]
) -> None:
    """Delivery reports and opt-out notices too: arbitrary fields in, no 5xx out."""
    for path in ("/sms/inbound", "/sms/delivery", "/sms/optout"):
        resp = client.post(path, data=fields)
        assert resp.status_code < 500, (path, resp.get_data(as_text=True))
        assert resp.mimetype == "text/plain"

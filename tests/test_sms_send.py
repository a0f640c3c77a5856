"""Outbound SMS: queued by a USSD effect, sent by an RQ job through the outbox or
the Africa's Talking SDK (pointed at the local mock gateway)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import create_app
from app.db import db_session
from app.gateways.mock_server import MockGateway, serve
from domain.sms import queue_sms
from models import OutboundSms, SmsStatus
from tests.jobs import run_jobs
from workers import SMS, enqueue
from workers.sms import send_sms

MSISDN = "+254700000101"


def _rows(app: Flask) -> list[OutboundSms]:
    with app.app_context():
        return list(db_session().scalars(select(OutboundSms).order_by(OutboundSms.id)))


def test_article_by_sms_goes_to_the_outbox_without_credentials(
    app: Flask, dial: Any, to_sms_option: Any
) -> None:
    taken = to_sms_option("sms1", ["1", "4", "2", "1"])  # English, Health, Malaria, 1st
    dial("sms1", "*".join([*taken, "1"]))
    run_jobs(app)
    [row] = _rows(app)
    assert row.msisdn == MSISDN
    assert row.body.startswith("Sleep under a treated net")
    assert (row.status, row.gateway) == (SmsStatus.SENT, "outbox")
    assert row.dedup_key is not None and row.dedup_key.startswith("ussd:")
    assert row.parts == 2


@pytest.fixture
def gateway() -> Iterator[MockGateway]:
    with serve() as gw:
        yield gw


@pytest.fixture
def at_app(app: Flask, base_config: dict[str, Any], gateway: MockGateway) -> Flask:
    """The app with Africa's Talking credentials, talking to the mock gateway."""
    cfg = {
        **base_config,
        "AT_USERNAME": "ngazi",
        "AT_API_KEY": "test-key",
        "AT_SMS_BASE_URL": gateway.base_url,
        "AT_SENDER_ID": "NGAZI",
    }
    return create_app(cfg)


def _queue(app: Flask, msisdn: str, body: str, key: str) -> int:
    with app.app_context():
        queued = queue_sms(db_session(), msisdn=msisdn, body=body, dedup_key=key)
        enqueue(SMS, send_sms, queued.id, retries=0)
    run_jobs(app)
    return queued.id


def test_sent_through_the_sdk_with_the_gateway_answer(at_app: Flask, gateway: MockGateway) -> None:
    _queue(at_app, MSISDN, "Habari", "t1")
    [req] = gateway.requests
    assert req["form"] == {
        "username": "ngazi",
        "to": MSISDN,
        "message": "Habari",
        "bulkSMSMode": "1",
        "from": "NGAZI",
    }
    assert req["headers"]["apiKey"] == "test-key"
    [row] = _rows(at_app)
    assert (row.status, row.gateway, row.gateway_message_id, row.cost) == (
        SmsStatus.SENT,
        "africastalking",
        "ATXid_mock1",
        "KES 0.8000",
    )


@pytest.mark.parametrize(
    ("code", "reason"),
    [(406, "UserInBlacklist"), (403, "InvalidPhoneNumber"), (409, "DoNotDisturbRejection")],
)
def test_refused_recipient_is_rejected_with_the_reason(
    at_app: Flask, gateway: MockGateway, code: int, reason: str
) -> None:
    gateway.codes[MSISDN] = code
    _queue(at_app, MSISDN, "Habari", f"refused{code}")
    [row] = _rows(at_app)
    assert (row.status, row.failure_reason, row.gateway_message_id) == (
        SmsStatus.REJECTED,
        reason,
        None,
    )


@pytest.mark.parametrize("failure", ["http500", "balance"])
def test_gateway_failure_leaves_the_message_queued_for_retry(
    at_app: Flask, gateway: MockGateway, failure: str
) -> None:
    if failure == "http500":
        gateway.http_status = 500
    else:
        gateway.codes[MSISDN] = 405
    _queue(at_app, MSISDN, "Habari", f"fail-{failure}")
    [row] = _rows(at_app)
    assert (row.status, row.sent_at) == (SmsStatus.QUEUED, None)
    assert len(gateway.requests) == 1
    # The gateway recovers; the retried job sends it once.
    gateway.http_status, gateway.codes = 201, {}
    with at_app.app_context():
        assert send_sms(row.id) == "sent"
        assert send_sms(row.id) == "sent"  # a second run is a no-op
    assert len(gateway.requests) == 2


def test_same_dedup_key_queues_once(app: Flask) -> None:
    with app.app_context():
        first = queue_sms(db_session(), msisdn=MSISDN, body="a", dedup_key="k")
        second = queue_sms(db_session(), msisdn=MSISDN, body="a", dedup_key="k")
    assert (first.created, second.created, first.id) == (True, False, second.id)

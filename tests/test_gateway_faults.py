"""The SMS gateway slow, failing or refusing, with real Redis and RQ: the USSD
caller is answered at once whatever the gateway does; the send is retried with
backoff (RQ's schedule) and goes out once the gateway recovers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from app import create_app
from app.db import db_session
from app.gateways.mock_server import MockGateway, serve
from models import OutboundSms, SmsStatus
from workers import SMS, set_worker_app

pytestmark = pytest.mark.real_services


@pytest.fixture
def gateway() -> Iterator[MockGateway]:
    with serve() as gw:
        yield gw


@pytest.fixture
def at_app(app: Flask, base_config: dict[str, Any], gateway: MockGateway) -> Flask:
    """Africa's Talking credentials pointed at the mock gateway; a 1 s timeout."""
    return create_app(
        {
            **base_config,
            "AT_USERNAME": "ngazi",
            "AT_API_KEY": "test-key",
            "AT_SMS_BASE_URL": gateway.base_url,
            "AT_SMS_TIMEOUT": 1,
        }
    )


def _work_once(app: Flask) -> None:
    """One burst of a real worker on the SMS queue, in this process."""
    from rq import SimpleWorker

    set_worker_app(app)
    SimpleWorker([SMS], connection=app.extensions["ngazi_redis"]).work(burst=True)


@pytest.mark.parametrize("fault", ["slow", "http500"])
def test_the_caller_is_answered_at_once_and_the_sms_is_retried(
    at_app: Flask, gateway: MockGateway, to_sms_option: Any, fault: str
) -> None:
    if fault == "slow":
        gateway.latency = 10.0  # past AT_SMS_TIMEOUT
    else:
        gateway.http_status = 500
    client = at_app.test_client()
    taken = to_sms_option("slow", ["1", "4", "2", "1"])  # English, Health, Malaria, 1st
    form = {
        "sessionId": "slow",
        "serviceCode": at_app.config["USSD_SERVICE_CODE"],
        "phoneNumber": "+254700000101",
        "text": "*".join([*taken, "1"]),
    }
    started = time.monotonic()
    answer = client.post("/ussd", data=form).get_data(as_text=True)
    assert time.monotonic() - started < 1.0  # the job is queued, not run in the hop
    assert "We are sending this to your phone by SMS." in answer

    redis = at_app.extensions["ngazi_redis"]
    _work_once(at_app)  # the gateway times out (or fails): the send is scheduled again
    scheduled = ScheduledJobRegistry(SMS, connection=redis)
    [job_id] = scheduled.get_job_ids()
    retry_at = scheduled.get_scheduled_time(job_id).timestamp()
    assert 5 < retry_at - time.time() <= 11  # the first backoff step is 10 s
    with at_app.app_context():
        [row] = db_session().scalars(select(OutboundSms)).all()
        assert (row.status, row.sent_at) == (SmsStatus.QUEUED, None)

    gateway.latency, gateway.http_status = 0.0, 201  # the gateway recovers
    queue = Queue(SMS, connection=redis)
    queue.enqueue_job(queue.fetch_job(job_id))  # its time has come
    scheduled.remove(job_id)
    _work_once(at_app)
    with at_app.app_context():
        db_session().expire_all()
        [row] = db_session().scalars(select(OutboundSms)).all()
        assert row.status is SmsStatus.SENT
        assert (row.gateway_message_id or "").startswith("ATXid_mock")
    # The failed attempt and the one that went out. (A request that timed out may
    # still have been taken by the gateway: the outcome of a timeout is unknown,
    # and a reply is sent again rather than lost. docs/deploy.md says so.)
    assert len(gateway.requests) == 2

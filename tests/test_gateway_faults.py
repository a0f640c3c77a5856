"""The SMS gateway slow, failing or refusing, with real Redis and RQ: the USSD
caller is answered at once whatever the gateway does; the send is retried with
backoff (RQ's schedule) and goes out once the gateway recovers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update

from app import create_app
from app.db import db_session
from app.gateways.mock_server import MockGateway, serve
from domain import delivery
from models import OutboundSms, SmsStatus
from models.base import utcnow
from workers import SMS, set_worker_app
from workers.campaigns import tick
from workers.sms import settle_sms

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


def _dial_article_by_sms(app: Flask, to_sms_option: Any) -> None:
    """A caller asks for an article by SMS: answered at once, the SMS queued."""
    taken = to_sms_option("slow", ["1", "4", "2", "1"])  # English, Health, Malaria, 1st
    form = {
        "sessionId": "slow",
        "serviceCode": app.config["USSD_SERVICE_CODE"],
        "phoneNumber": "+254700000101",
        "text": "*".join([*taken, "1"]),
    }
    started = time.monotonic()
    answer = app.test_client().post("/ussd", data=form).get_data(as_text=True)
    assert time.monotonic() - started < 1.0  # the job is queued, not run in the hop
    assert "We are sending this to your phone by SMS." in answer


def _row(app: Flask) -> OutboundSms:
    with app.app_context():
        db_session().expire_all()
        [row] = db_session().scalars(select(OutboundSms)).all()
        return row


def _scheduled(app: Flask) -> dict[str, tuple[str, float]]:
    """The SMS queue's scheduled jobs: function name → (job id, seconds from now)."""
    registry = ScheduledJobRegistry(SMS, connection=app.extensions["ngazi_redis"])
    queue = Queue(SMS, connection=app.extensions["ngazi_redis"])
    found = {}
    for job_id in registry.get_job_ids():
        job = queue.fetch_job(job_id)
        assert job is not None
        when = registry.get_scheduled_time(job_id).timestamp() - time.time()
        found[job.func_name.rsplit(".", 1)[-1]] = (job_id, when)
    return found


def test_the_caller_is_answered_at_once_and_a_refused_sms_is_retried(
    at_app: Flask, gateway: MockGateway, to_sms_option: Any
) -> None:
    gateway.http_status = 500
    _dial_article_by_sms(at_app, to_sms_option)
    _work_once(at_app)  # the gateway fails: the send is scheduled again
    scheduled = _scheduled(at_app)
    job_id, retry_in = scheduled["send_sms"]
    assert 5 < retry_in <= 11  # the first backoff step is 10 s
    # And a check after the claim timeout, in case every retry fails.
    assert at_app.config["CAMPAIGN_CLAIM_TIMEOUT"] < scheduled["settle_sms"][1]
    row = _row(at_app)
    assert (row.status, row.sent_at, row.attempts) == (SmsStatus.QUEUED, None, 1)

    gateway.http_status = 201  # the gateway recovers
    redis = at_app.extensions["ngazi_redis"]
    queue = Queue(SMS, connection=redis)
    queue.enqueue_job(queue.fetch_job(job_id))  # its time has come
    ScheduledJobRegistry(SMS, connection=redis).remove(job_id)
    _work_once(at_app)
    row = _row(at_app)
    assert (row.status, row.attempts) == (SmsStatus.SENT, 2)
    assert (row.gateway_message_id or "").startswith("ATXid_mock")
    assert len(gateway.requests) == 2 and gateway.accepted_count == 1
    with at_app.app_context():  # the check finds it sent
        assert settle_sms(row.id) == "sent"
    assert gateway.accepted_count == 1


def test_a_send_that_timed_out_waits_for_its_report_and_goes_once(
    at_app: Flask, gateway: MockGateway, to_sms_option: Any
) -> None:
    """The gateway answers after the client gave up: it took the message, so
    sending it again would send it twice. The claim waits; the delivery report
    settles it."""
    gateway.latency = 1.5  # past AT_SMS_TIMEOUT (1 s)
    _dial_article_by_sms(at_app, to_sms_option)
    _work_once(at_app)
    assert "send_sms" not in _scheduled(at_app)  # no retry
    row = _row(at_app)
    assert (row.status, row.gateway_message_id) == (SmsStatus.SENDING, None)
    deadline = time.monotonic() + 5
    while gateway.accepted_count < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gateway.accepted_count == 1  # it was taken after all
    report = {"id": "ATXid_mock1", "status": "Success", "phoneNumber": row.msisdn}
    assert at_app.test_client().post("/sms/delivery", data=report).status_code == 200
    with at_app.app_context():
        # The claim is a second old: its worker might still answer, so the
        # report waits (a few seconds) for the tick to apply it.
        assert settle_sms(row.id) == "waiting"
        assert delivery.apply_waiting(db_session(), utcnow() + timedelta(seconds=10)) == 1
        assert settle_sms(row.id) == "sent"
    row = _row(at_app)
    assert (row.status, row.gateway_message_id, row.attempts) == (
        SmsStatus.DELIVERED,
        "ATXid_mock1",
        1,
    )
    assert gateway.accepted_count == 1


def test_a_claim_with_no_answer_and_no_report_is_sent_again_after_the_timeout(
    at_app: Flask, gateway: MockGateway, to_sms_option: Any
) -> None:
    """The worker died after its claim (or the gateway never took the message
    and no report comes): the check after the claim timeout sends it again."""
    gateway.http_status = 500
    _dial_article_by_sms(at_app, to_sms_option)
    row = _row(at_app)
    with at_app.app_context():  # a worker claims it, then dies
        db = db_session()
        claimed_at = utcnow() - timedelta(seconds=at_app.config["CAMPAIGN_CLAIM_TIMEOUT"] - 60)
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.id == row.id)
            .values(status=SmsStatus.SENDING, claimed_at=claimed_at, attempts=1)
        )
        db.commit()
        assert settle_sms(row.id) == "waiting"  # a minute before the timeout
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.id == row.id)
            .values(claimed_at=claimed_at - timedelta(seconds=120))
        )
        db.commit()
        gateway.http_status = 201
        assert settle_sms(row.id) == "requeued"
    _work_once(at_app)
    row = _row(at_app)
    assert (row.status, row.attempts) == (SmsStatus.SENT, 2)
    assert gateway.accepted_count == 1


def test_replies_whose_jobs_redis_lost_are_sent_by_the_tick(
    at_app: Flask, gateway: MockGateway, to_sms_option: Any
) -> None:
    _dial_article_by_sms(at_app, to_sms_option)
    at_app.extensions["ngazi_redis"].flushdb()  # a restart without persistence: the job is gone
    with at_app.app_context():
        done = tick()
    assert done["sms_swept"] == 1
    _work_once(at_app)
    assert _row(at_app).status is SmsStatus.SENT
    assert gateway.accepted_count == 1
    with at_app.app_context():  # once per loss of Redis: the next tick scans nothing
        assert "sms_swept" not in tick()


def test_an_sms_not_sent_within_a_day_is_given_up(
    at_app: Flask, gateway: MockGateway, to_sms_option: Any
) -> None:
    _dial_article_by_sms(at_app, to_sms_option)
    row = _row(at_app)
    with at_app.app_context():
        db = db_session()
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.id == row.id)
            .values(created_at=utcnow() - timedelta(hours=25))
        )
        db.commit()
        assert settle_sms(row.id) == "expired"
    row = _row(at_app)
    assert (row.status, row.failure_reason) == (SmsStatus.FAILED, "not sent in time")
    assert gateway.accepted_count == 0

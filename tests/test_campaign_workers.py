"""A campaign sent by real RQ worker processes (``flask worker``) against
PostgreSQL, Redis and the mock gateway, with workers killed by SIGKILL in the
middle of their batches: nobody is lost and nobody gets the campaign twice.

Needs the real services: deselected in the embedded run (see conftest).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from app.db import db_session
from app.gateways.mock_server import MockGateway, serve
from domain import campaigns
from domain.campaigns import Audience
from models import Campaign, CampaignStatus, OutboundSms, SmsStatus, Subscriber
from models.base import utcnow
from tests.live_server import serve as serve_app
from workers import campaigns as jobs

pytestmark = pytest.mark.real_services

ROOT = Path(__file__).resolve().parent.parent
RECIPIENTS = 6000  # the Redis test
#: The kill test's campaign: 6,000 recipients in CI (about 30 s);
#: KILL_TEST_RECIPIENTS=100000 runs the issue's scale (about 10 min here).
KILL_RECIPIENTS = int(os.environ.get("KILL_TEST_RECIPIENTS", "6000"))
#: Claims a killed worker left unanswered are put back after this long, once
#: reports for later messages are in. At 100,000 sends the mock gateway's
#: reports reach the test's one live server minutes behind the sends (about
#: 200 a second): far more than this timeout, so the test also proves that a
#: late report is waited for, not taken for a lost message.
CLAIM_TIMEOUT = 15
KILL_EVERY = 1.0  # seconds
#: A claim younger than this belongs to a batch in flight (a request takes
#: 150 ms at the mock gateway, recording its answer a few more).
IN_FLIGHT = timedelta(seconds=2)
MIN_KILLS = 6


@pytest.fixture
def gateway(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[MockGateway]:
    """The mock gateway, slow enough (150 ms a request) that kills land mid-batch,
    posting delivery reports to the app on a real socket."""
    with serve_app(app) as app_url, serve(MockGateway(latency=0.15, dlr_delay=0.05)) as gw:
        gw.dlr_url = f"{app_url}/sms/delivery?token={app.config['WEBHOOK_TOKEN']}"
        settings = {
            "AT_USERNAME": "sandbox",
            "AT_API_KEY": "test-key",
            "AT_SMS_BASE_URL": gw.base_url,
            "SMS_RATE": 0,
            "SMS_BATCH_SIZE": 50 if KILL_RECIPIENTS <= 10_000 else 500,
            # A report for a claim younger than the timeout + 5 s waits (its
            # worker may still answer: the tick applies it); claims with no
            # report come back after CLAIM_TIMEOUT.
            "AT_SMS_TIMEOUT": 1,
            "CAMPAIGN_CLAIM_TIMEOUT": CLAIM_TIMEOUT,
            "CAMPAIGN_STALL_SECONDS": 3,
        }
        for key, value in settings.items():
            monkeypatch.setitem(app.config, key, value)
        yield gw


def _worker(app: Flask) -> subprocess.Popen[bytes]:
    """``flask worker`` in its own process group (its work horses die with it)."""
    env = {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": app.config["REDIS_URL"],
        "NGAZI_INSTANCE_DIR": app.config["INSTANCE_DIR"],
        **{
            key: str(app.config[key])
            for key in (
                "AT_USERNAME",
                "AT_API_KEY",
                "AT_SMS_BASE_URL",
                "SMS_RATE",
                "SMS_BATCH_SIZE",
                "AT_SMS_TIMEOUT",
                "CAMPAIGN_CLAIM_TIMEOUT",
                "CAMPAIGN_STALL_SECONDS",
            )
        },
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def _unanswered_claims(
    app: Flask, campaign_id: int, since: datetime, until: datetime | None = None
) -> int:
    """Rows claimed (``sending``) since ``since`` (and until ``until``) with no
    answer recorded."""
    window = [OutboundSms.claimed_at >= since]
    if until is not None:
        window.append(OutboundSms.claimed_at <= until)
    with app.app_context():
        return int(
            db_session().scalar(
                select(func.count()).where(
                    OutboundSms.campaign_id == campaign_id,
                    OutboundSms.status == SmsStatus.SENDING,
                    OutboundSms.gateway_message_id.is_(None),
                    *window,
                )
            )
            or 0
        )


def _subscribers(n: int) -> None:
    db = db_session()
    now = utcnow()
    db.execute(
        insert(Subscriber),
        [
            {"msisdn": f"+25479{i:07d}", "opted_out": False, "first_seen": now, "pin_failures": 0}
            for i in range(n)
        ],
    )
    db.commit()


def _start_campaign(app: Flask, name: str, recipients: int = RECIPIENTS) -> int:
    with app.app_context():
        db = db_session()
        _subscribers(recipients)
        campaign = campaigns.create_campaign(
            db, name=name, messages={"en": "Ngazi test"}, audience=Audience(), quiet_hours=None
        )
        db.commit()
        campaigns.schedule(db, campaign, campaigns.preview(db, campaign, "KES 0.80"))
        db.commit()
        jobs.start(db, campaign)
        return campaign.id


def _tick(app: Flask, campaign_id: int) -> CampaignStatus | None:
    with app.app_context():
        jobs.tick()
        return db_session().scalar(select(Campaign.status).where(Campaign.id == campaign_id))


def _outcome(app: Flask, campaign_id: int) -> tuple[dict[Any, int], int]:
    """Rows by status, and claims made in all."""
    with app.app_context():
        db = db_session()
        rows = db.execute(
            select(OutboundSms.status, func.count())
            .where(OutboundSms.campaign_id == campaign_id)
            .group_by(OutboundSms.status)
        ).all()
        attempts = db.scalar(
            select(func.sum(OutboundSms.attempts)).where(OutboundSms.campaign_id == campaign_id)
        )
    return dict(rows), int(attempts or 0)


def _assert_everyone_once(
    counts: dict[Any, int], gateway: MockGateway, recipients: int = RECIPIENTS
) -> None:
    assert sum(counts.values()) == recipients
    assert set(counts) <= {SmsStatus.SENT, SmsStatus.DELIVERED}
    assert gateway.accepted_count == recipients
    assert gateway.duplicates == 0


def test_workers_killed_mid_batch_lose_nobody_and_repeat_nobody(
    app: Flask, gateway: MockGateway, capsys: Any
) -> None:
    campaign_id = _start_campaign(app, "kill test", KILL_RECIPIENTS)
    workers = [_worker(app), _worker(app)]
    kills = orphaned = 0
    started = time.monotonic()
    deadline = started + 900
    status: CampaignStatus | None = CampaignStatus.SENDING
    try:
        next_kill = started + 2.5  # a worker takes ~1.5 s to start
        while time.monotonic() < deadline:
            time.sleep(0.25)
            # A worker killed every few seconds while the campaign sends, each
            # time while a batch is in flight (a claim with no answer yet), not
            # on a clock alone: a kill between batches proves nothing.
            due = status is not CampaignStatus.DONE and time.monotonic() >= next_kill
            in_flight = utcnow() - IN_FLIGHT
            if due and _unanswered_claims(app, campaign_id, in_flight) > 0:
                killed_at = utcnow()
                _kill(workers.pop(0))
                kills += 1
                workers.append(_worker(app))
                # Claims of the batch in flight that nobody answers: the killed
                # worker's (the other's batch is answered within a second).
                time.sleep(1.0)
                orphaned += _unanswered_claims(
                    app, campaign_id, killed_at - IN_FLIGHT, until=killed_at
                )
                next_kill = time.monotonic() + KILL_EVERY
            status = _tick(app, campaign_id)
            if status is CampaignStatus.DONE and kills >= MIN_KILLS:
                break
    finally:
        for proc in workers:
            _kill(proc)
    gateway.flush_reports(timeout=30)
    counts, attempts = _outcome(app, campaign_id)
    with capsys.disabled():
        print(
            f"\nkill test: {kills} workers killed in {time.monotonic() - started:.0f} s, "
            f"{KILL_RECIPIENTS} recipients, {orphaned} claims left unanswered by them, "
            f"{gateway.accepted_count} accepted sends, {gateway.duplicates} repeated, "
            f"{attempts} claims in all; delivery reports: {gateway.reports.stats()}"
        )
    assert orphaned > 0, "no kill landed in the middle of a batch: the test proved nothing"
    assert kills >= MIN_KILLS
    assert status is CampaignStatus.DONE
    _assert_everyone_once(counts, gateway, KILL_RECIPIENTS)


def test_redis_lost_mid_campaign_loses_nobody_and_repeats_nobody(
    app: Flask, gateway: MockGateway, capsys: Any
) -> None:
    """Redis restarts with none of its data (no persistence): the queued batch
    jobs, the scheduler's lock and the tick's chain are gone. The database holds
    every recipient's row, so the tick finds the stalled campaign and plans what
    is left again; claimed rows wait for their report or their timeout."""
    app.config.update(SMS_BATCH_SIZE=50, CAMPAIGN_CLAIM_TIMEOUT=15)  # 6,000 recipients
    campaign_id = _start_campaign(app, "redis test")
    redis = app.extensions["ngazi_redis"]
    workers = [_worker(app), _worker(app)]
    deadline = time.monotonic() + 120
    flushed_at = -1
    status: CampaignStatus | None = CampaignStatus.SENDING
    try:
        while time.monotonic() < deadline:
            time.sleep(0.25)
            if flushed_at < 0 and 0 < gateway.accepted_count < RECIPIENTS // 2:
                flushed_at = gateway.accepted_count
                redis.flushdb()  # what a restart without persistence leaves
            status = _tick(app, campaign_id)
            if status is CampaignStatus.DONE:
                break
    finally:
        for proc in workers:
            _kill(proc)
    gateway.flush_reports(timeout=10)
    counts, attempts = _outcome(app, campaign_id)
    with capsys.disabled():
        print(
            f"\nredis test: Redis emptied after {flushed_at} of {RECIPIENTS} sends; "
            f"{gateway.accepted_count} accepted sends, {gateway.duplicates} repeated, "
            f"{attempts} claims in all"
        )
    assert flushed_at > 0, "Redis was never emptied mid-campaign: the test proved nothing"
    assert status is CampaignStatus.DONE
    _assert_everyone_once(counts, gateway)

"""``flask worker --queue``: a worker for some queues only (one systemd unit per queue)."""

from __future__ import annotations

import pytest
from flask import Flask
from rq import Queue
from sqlalchemy import text

from app.db import db_session
from workers import NgaziWorker, job, set_worker_app


@pytest.mark.real_services
def test_a_worker_takes_only_its_queues(app: Flask) -> None:
    redis = app.extensions["ngazi_redis"]
    sms, campaigns = Queue("sms", connection=redis), Queue("campaigns", connection=redis)
    sms.enqueue("time.time")
    campaigns.enqueue("time.time")
    result = app.test_cli_runner().invoke(args=["worker", "--queue", "sms", "--burst"])
    assert result.exit_code == 0, result.output
    assert (sms.count, campaigns.count) == (0, 1)  # the campaigns' job waits for its worker
    bad = app.test_cli_runner().invoke(args=["worker", "--queue", "nope", "--burst"])
    assert bad.exit_code == 2 and "'nope' is not one of" in bad.output


@job
def fails_mid_transaction() -> None:
    db_session().execute(text("SELECT 1 / 0"))  # the transaction is now aborted


@job
def reads_the_database() -> int:
    return int(db_session().scalar(text("SELECT 41 + 1")) or 0)


@pytest.mark.real_services
def test_a_failed_job_leaves_nothing_behind_for_the_next(app: Flask) -> None:
    """As ``flask worker`` runs them: one worker, in one app context, job after job."""
    redis = app.extensions["ngazi_redis"]
    queue = Queue("default", connection=redis)
    bad = queue.enqueue(fails_mid_transaction)
    good = queue.enqueue(reads_the_database)
    set_worker_app(app)
    with app.app_context():
        NgaziWorker([queue], connection=redis).work(burst=True)
    assert bad.get_status(refresh=True) == "failed"
    assert good.get_status(refresh=True) == "finished"
    assert good.return_value() == 42

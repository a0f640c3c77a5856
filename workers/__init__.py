"""RQ jobs: one place for queue names, one decorator, one way to enqueue.

Jobs take ids, not ORM objects, run inside an app context, and are safe to run
twice (RQ delivers at least once). With no ``REDIS_URL`` (the embedded
default) jobs run inline, in the caller's process, at enqueue time.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from flask import Flask, current_app, has_app_context
from rq import Queue, Retry, SimpleWorker, Worker
from rq.utils import now as rq_now

#: Queue names, highest priority first (a worker listens in this order).
SMS = "sms"  # one message to one person: replies, confirmations
# Inbound SMS to act on: after replies, so a burst of offers never holds back
# the confirmations of those already processed.
INBOUND = "inbound"
DEFAULT = "default"
CAMPAIGNS = "campaigns"  # bulk: planners and batches wait behind everything else
QUEUES = (SMS, INBOUND, DEFAULT, CAMPAIGNS)

P = ParamSpec("P")
R = TypeVar("R")

_worker_app: Flask | None = None


def job(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` inside an app context: the caller's when inline, else a fresh
    one per job in a worker process (so every job gets its own DB session)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if has_app_context():
            return func(*args, **kwargs)
        app = _worker_app
        if app is None:
            from app import create_app

            app = set_worker_app(create_app())
        with app.app_context():
            return func(*args, **kwargs)

    return wrapper


def set_worker_app(app: Flask) -> Flask:
    global _worker_app
    _worker_app = app
    return app


def queue(name: str) -> Queue:
    """The named queue on the app's Redis; synchronous in the embedded default."""
    from app.redis_store import get_redis

    inline = not current_app.config["REDIS_URL"]
    return Queue(name, connection=get_redis(), is_async=not inline)


def enqueue(name: str, func: Callable[..., Any], *args: Any, retries: int = 3) -> None:
    """Enqueue ``func(*args)`` on queue ``name``, retried with backoff (10 s, 60 s, 5 min)."""
    retry = Retry(max=retries, interval=[10, 60, 300][:retries]) if retries else None
    queue(name).enqueue(func, *args, retry=retry)


class _Maintenance:
    """RQ's periodic maintenance (every 10 min), plus: make sure the campaigns'
    tick is scheduled (its chain lives in Redis and dies with Redis's data),
    close produce offers past their days, and apply the retention periods
    (``domain.retention``) once a day across all workers.

    It also runs as soon as this worker's scheduler process has died: a Redis
    restart or a Sentinel failover kills it (a refused connection), and until
    maintenance starts it again no retry, delayed batch or tick would run. RQ
    checks before each job and at least every ``worker_ttl - 15`` seconds."""

    @property
    def should_run_maintenance_tasks(self) -> bool:
        last: datetime | None = self.last_cleaned_at  # type: ignore[attr-defined]
        # At most every SCHEDULER_RESTART_SECONDS: while another worker's
        # scheduler holds the lock, this one's stays down (and that is fine).
        if last is not None and rq_now() - last > timedelta(seconds=SCHEDULER_RESTART_SECONDS):
            process = getattr(getattr(self, "scheduler", None), "_process", None)
            if process is not None and not process.is_alive():
                logging.getLogger(__name__).warning("RQ scheduler died; starting it again")
                return True
        return bool(super().should_run_maintenance_tasks)  # type: ignore[misc]

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[misc]
        from app.db import db_session
        from domain.market import expire_offers
        from models.base import utcnow
        from workers.campaigns import schedule_tick

        schedule_tick()
        db = db_session()
        expire_offers(db, utcnow())
        db.commit()
        try:
            purge_daily()
        except Exception:  # the purge waits for the next maintenance; the worker goes on
            db.rollback()
            logging.getLogger(__name__).exception("retention purge failed")


#: How soon maintenance runs again to start a scheduler process that died (seconds).
SCHEDULER_RESTART_SECONDS = 30

#: Set for a day when a worker has applied the retention periods.
PURGE_KEY = "ngazi:privacy:purged"


def purge_daily() -> bool:
    """Apply the retention periods if no worker has in the last 24 hours (a key
    in Redis says who did); returns whether this call did. Each run does at most
    a few batches per kind (a first purge of a large backlog takes a few days of
    maintenance, or one ``flask privacy purge``)."""
    from app.db import db_session
    from app.redis_store import get_redis
    from domain.retention import purge
    from models.base import utcnow

    if not get_redis().set(PURGE_KEY, "1", nx=True, ex=24 * 3600):
        return False
    config = current_app.config
    purge(
        db_session(),
        utcnow(),
        sms_days=config["RAW_SMS_RETENTION_DAYS"],
        audit_days=config["AUDIT_RETENTION_DAYS"],
        max_batches=20,
    )
    return True


class _FreshSession:
    """Every job starts with a database session of its own. ``flask worker``
    runs jobs inside its own app context, so without this a job that failed
    mid-transaction left the session failed for every job after it on that
    worker (``InFailedSqlTransaction``: found by ``bench.soak``)."""

    def perform_job(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().perform_job(*args, **kwargs)  # type: ignore[misc]
        finally:
            if has_app_context():
                current_app.extensions["ngazi_db"].remove()


class NgaziWorker(_FreshSession, _Maintenance, SimpleWorker):
    """Runs each job in the worker process (``flask worker``'s default)."""


class NgaziForkingWorker(_FreshSession, _Maintenance, Worker):
    """Runs each job in a forked work horse (``flask worker --fork``)."""

"""``GET /metrics``: Prometheus metrics, in the text exposition format.

What is served (docs/console.md, "Metrics"):

* ``ngazi_ussd_hops_total{outcome}`` and ``ngazi_ussd_hop_seconds{outcome}``
  (histogram): every ``POST /ussd``, by outcome ``CON``, ``END``, ``limited``
  (past the number's ``USSD_MSISDN_LIMIT``) or ``error``
  (a refused callback, or "service busy" when the database or Redis failed).
* ``ngazi_sms_messages{status}``, ``ngazi_inbound_sms_messages{status}``: rows
  of ``outbound_sms`` and ``inbound_sms`` by status, counted in the database
  (see ``_count_by_status`` for the cost), at most every ``DB_CACHE_SECONDS``.
* ``ngazi_rq_queue_depth{queue}``, ``ngazi_rq_failed_jobs{queue}``,
  ``ngazi_rq_workers``: read from Redis at each scrape (an ``LLEN`` and a
  ``ZCARD`` per queue, an ``SCARD``).
* ``ngazi_webhook_refused_total{endpoint,reason}``: gateway callbacks refused
  with 403 (``app.webhook_auth``): no or a wrong ``token``, or a ``source``
  outside ``WEBHOOK_ALLOW_CIDRS``.
* ``ngazi_metrics_errors_total{source}``: scrapes that had to leave a metric
  out because ``database`` or ``redis`` could not be read. A scrape never
  fails with a 500 for that.

Counters live in the process that counts. Gunicorn runs several worker
processes, each with its own counts: when ``PROMETHEUS_MULTIPROC_DIR`` is set
(``deploy/gunicorn.conf.py`` sets it) prometheus-client keeps them in files in
that directory and a scrape sums every process's; otherwise a plain in-process
registry is used (``flask run``, tests). The variable must be set before the
process imports prometheus-client.

Access: with ``METRICS_TOKEN`` set, a request must carry
``Authorization: Bearer <token>`` (401 otherwise); with none, only a client at
127.0.0.1 or ::1 may read (403 otherwise).
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis import RedisError
from rq import Queue, Worker
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from app import webhook_auth  # a module: the two import each other
from app.db import db_session
from app.redis_store import get_redis
from models import InboundSms, OutboundSms
from models.sms import InboundStatus, SmsStatus
from workers import QUEUES

log = logging.getLogger(__name__)

#: prometheus-client chose its value store when it was imported, from this variable:
#: read it once, here, so the scrape reads from where the counts are.
MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")

bp = Blueprint("metrics", __name__)

#: Seconds the database counts are kept in each process before a scrape counts again.
DB_CACHE_SECONDS = 30
#: A count that takes longer is abandoned (PostgreSQL ``statement_timeout``), in ms.
DB_TIMEOUT_MS = 5000
LOCAL_CLIENTS = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
OUTCOMES = ("CON", "END", "limited", "error")
#: Hop latency buckets, seconds: most hops take a few ms to tens of ms, so the
#: resolution is below 100 ms; the gateway gives up after about 15 s.
USSD_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15)

# Process-wide, as prometheus-client's metrics are: one set however many apps exist.
_LIVE = CollectorRegistry(auto_describe=True)
USSD_HOPS = Counter(
    "ngazi_ussd_hops", "USSD callbacks answered, by outcome.", ["outcome"], registry=_LIVE
)
USSD_SECONDS = Histogram(
    "ngazi_ussd_hop_seconds",
    "Time to answer a USSD callback, in seconds, by outcome.",
    ["outcome"],
    buckets=USSD_BUCKETS,
    registry=_LIVE,
)
REFUSED = Counter(
    "ngazi_webhook_refused",
    "Gateway callbacks refused (403), by endpoint and reason (token, source).",
    ["endpoint", "reason"],
    registry=_LIVE,
)
ERRORS = Counter(
    "ngazi_metrics_errors",
    "Metrics left out of a scrape because their source could not be read.",
    ["source"],
    registry=_LIVE,
)

_hops: dict[str, tuple[Any, Any]] = {}  # outcome -> (counter child, histogram child)
_cache: dict[str, tuple[float, dict[str, int]]] = {}  # table -> (monotonic time, counts)
_cache_lock = threading.Lock()


def observe_ussd_hop(outcome: str, seconds: float) -> None:
    """Count one USSD hop (``outcome`` in ``OUTCOMES``) that took ``seconds``.

    A few microseconds (a few more in multiprocess mode, which writes to an
    mmap'ed file): the label lookups are done once, in ``init_app``.
    """
    counter, histogram = _hops[outcome]
    counter.inc()
    histogram.observe(seconds)


def count_refused_callback(endpoint: str, reason: str) -> None:
    """Count one callback refused with 403 (``app.webhook_auth``)."""
    REFUSED.labels(endpoint, reason).inc()


@bp.get("/metrics")
def metrics() -> Response:
    refusal = _refusal()
    if refusal is not None:
        return refusal
    scraped = _Scraped(list(_database_families()) + list(_queue_families()))
    extra = CollectorRegistry(auto_describe=True)
    extra.register(scraped)
    body = _counted() + generate_latest(extra)
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def _counted() -> bytes:
    """The counters and histograms: this process's, or every process's."""
    if not MULTIPROC_DIR:
        return generate_latest(_LIVE)
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=MULTIPROC_DIR)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def _refusal() -> Response | None:
    """None when the client may read the metrics, else the 401 or 403 to send."""
    token = current_app.config["METRICS_TOKEN"]
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return Response(
            "A bearer token is required.\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    if webhook_auth.request_address() in LOCAL_CLIENTS:
        return None
    return Response(
        "Only local clients may read /metrics unless METRICS_TOKEN is set.\n",
        403,
        mimetype="text/plain",
    )


class _Scraped(Collector):
    """Metric families read at this scrape, served once."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self.families


def _database_families() -> Iterable[GaugeMetricFamily]:
    for name, doc, model, statuses in (
        ("ngazi_sms_messages", "Outbound SMS by status.", OutboundSms, SmsStatus),
        ("ngazi_inbound_sms_messages", "Inbound SMS by status.", InboundSms, InboundStatus),
    ):
        try:
            counts = _cached(model, statuses)
        except SQLAlchemyError:
            log.warning("metrics: cannot count %s", model.__tablename__, exc_info=True)
            ERRORS.labels("database").inc()
            continue
        family = GaugeMetricFamily(name, doc, labels=["status"])
        for status, count in counts.items():
            family.add_metric([status], count)
        yield family


def _cached(model: Any, statuses: type[StrEnum]) -> dict[str, int]:
    table = model.__tablename__
    with _cache_lock:  # one count at a time in this process; the others use its result
        hit = _cache.get(table)
        if hit is not None and time.monotonic() - hit[0] < DB_CACHE_SECONDS:
            return hit[1]
        counts = _count_by_status(model, statuses)
        _cache[table] = (time.monotonic(), counts)
        return counts


def _count_by_status(model: Any, statuses: type[StrEnum]) -> dict[str, int]:
    """``{status: rows}`` for every status (0 for none): one ``GROUP BY status``.

    Cost: ``outbound_sms`` has no index on ``status``, on purpose (a status
    change must stay a heap-only update, ``models.sms``), so this is one
    sequential scan of the table, O(rows): on PostgreSQL roughly 0.1–0.3 s per
    million rows, in parallel workers when the table is large. ``inbound_sms``
    has an index on ``status``, which PostgreSQL may read instead (an
    index-only scan). ``_cached`` bounds it to once per ``DB_CACHE_SECONDS`` in
    each process, however often Prometheus scrapes, and ``DB_TIMEOUT_MS`` ends a
    count that takes too long (the metric is then left out).
    """
    db = db_session()
    try:
        if db.get_bind().dialect.name == "postgresql":
            db.execute(text(f"SET LOCAL statement_timeout = {DB_TIMEOUT_MS}"))
        rows = db.execute(select(model.status, func.count()).group_by(model.status)).all()
    finally:
        db.rollback()  # read only; also ends the SET LOCAL
    counts = {status.value: 0 for status in statuses}
    for status, count in rows:
        counts[str(status.value if isinstance(status, StrEnum) else status)] = int(count)
    return counts


def _queue_families() -> Iterable[GaugeMetricFamily]:
    connection = get_redis()
    try:
        depth = GaugeMetricFamily(
            "ngazi_rq_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"]
        )
        failed = GaugeMetricFamily(
            "ngazi_rq_failed_jobs", "Failed jobs kept for each RQ queue.", labels=["queue"]
        )
        for name in QUEUES:
            queue = Queue(name, connection=connection)
            depth.add_metric([name], queue.count)
            failed.add_metric([name], queue.failed_job_registry.get_job_count(cleanup=False))
        workers = GaugeMetricFamily("ngazi_rq_workers", "RQ workers registered in Redis.")
        workers.add_metric([], Worker.count(connection=connection))
    except RedisError:
        log.warning("metrics: cannot read the RQ queues", exc_info=True)
        ERRORS.labels("redis").inc()
        return []
    return [depth, failed, workers]


def clear_cache() -> None:
    """Forget the cached database counts (tests)."""
    with _cache_lock:
        _cache.clear()


def init_app(app: Flask) -> None:
    if MULTIPROC_DIR:
        os.makedirs(MULTIPROC_DIR, exist_ok=True)
    if not _hops:
        for outcome in OUTCOMES:
            _hops[outcome] = (USSD_HOPS.labels(outcome), USSD_SECONDS.labels(outcome))
        for source in ("database", "redis"):
            ERRORS.labels(source)  # shown as 0 until it happens
    app.register_blueprint(bp)

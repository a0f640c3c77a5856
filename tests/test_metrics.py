"""``GET /metrics``: USSD hops and latency, SMS by status, RQ queues, access by
token or local address, and no 500 when a source is down.

Counters are per process and live as long as it: tests compare before and after.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from sqlalchemy.exc import OperationalError

from app import metrics
from app.db import db_session
from models import InboundSms, OutboundSms
from models.sms import InboundStatus, SmsStatus
from tests.test_console_queues import fail_a_job, redis_of

ROOT = Path(__file__).resolve().parent.parent
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: FlaskClient, **kwargs: Any) -> Samples:
    resp = client.get("/metrics", **kwargs)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.content_type.startswith("text/plain; version=")
    return parse(resp.get_data(as_text=True))


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


@pytest.fixture(autouse=True)
def _fresh_counts() -> Iterator[None]:
    metrics.clear_cache()
    yield
    metrics.clear_cache()


# -- USSD ------------------------------------------------------------------------------


def test_ussd_hops_are_counted_and_timed_by_outcome(client: FlaskClient, dial: Any) -> None:
    before = scrape(client)

    assert dial("m1", "").get_data(as_text=True).startswith("CON ")
    assert dial("m1", "1").get_data(as_text=True).startswith("CON ")
    assert dial("m2", "", serviceCode="*999#").get_data(as_text=True).startswith("END ")
    assert client.post("/ussd", data={"text": ""}).status_code == 400  # no sessionId

    after = scrape(client)
    for outcome, hops in (("CON", 2), ("END", 1), ("error", 1)):
        for name in ("ngazi_ussd_hops_total", "ngazi_ussd_hop_seconds_count"):
            grew = value(after, name, outcome=outcome) - value(before, name, outcome=outcome)
            assert grew == hops, (name, outcome)
        inf = value(after, "ngazi_ussd_hop_seconds_bucket", outcome=outcome, le="+Inf")
        assert inf == value(after, "ngazi_ussd_hop_seconds_count", outcome=outcome)
    spent = value(after, "ngazi_ussd_hop_seconds_sum", outcome="CON") - value(
        before, "ngazi_ussd_hop_seconds_sum", outcome="CON"
    )
    assert 0 < spent < 15
    bounds = sorted(
        float(dict(labels)["le"])
        for name, labels in after
        if name == "ngazi_ussd_hop_seconds_bucket" and dict(labels)["outcome"] == "CON"
    )
    assert bounds == [
        0.005,
        0.01,
        0.025,
        0.05,
        0.075,
        0.1,
        0.25,
        0.5,
        1,
        2.5,
        5,
        10,
        15,
        float("inf"),
    ]
    # Both CON hops took less than the gateway's 15 s.
    grew_15 = value(after, "ngazi_ussd_hop_seconds_bucket", outcome="CON", le="15.0") - value(
        before, "ngazi_ussd_hop_seconds_bucket", outcome="CON", le="15.0"
    )
    assert grew_15 == 2


def test_a_busy_answer_is_an_error(
    client: FlaskClient, dial: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from menus.engine import Engine

    def down(*args: Any, **kwargs: Any) -> str:
        raise redis.ConnectionError("Redis is away")

    before = scrape(client)
    monkeypatch.setattr(Engine, "handle", down)
    assert dial("m3", "").get_data(as_text=True).startswith("END Service busy")
    monkeypatch.undo()

    after = scrape(client)
    assert (
        value(after, "ngazi_ussd_hops_total", outcome="error")
        - value(before, "ngazi_ussd_hops_total", outcome="error")
        == 1
    )
    assert value(after, "ngazi_ussd_hops_total", outcome="END") == value(
        before, "ngazi_ussd_hops_total", outcome="END"
    )


# -- SMS -------------------------------------------------------------------------------


def add_sms(app: Flask, outbound: dict[SmsStatus, int], inbound: dict[InboundStatus, int]) -> None:
    with app.app_context():
        db = db_session()
        n = 0
        for status, count in outbound.items():
            for _ in range(count):
                n += 1
                db.add(OutboundSms(msisdn=f"+2547000{n:05d}", body="hi", status=status))
        for status, count in inbound.items():
            for _ in range(count):
                n += 1
                db.add(
                    InboundSms(
                        gateway_id=f"g{n}",
                        msisdn=f"+2547000{n:05d}",
                        to="21234",
                        text="x",
                        status=status,
                    )
                )
        db.commit()


def test_sms_by_status_match_the_rows(app: Flask, client: FlaskClient) -> None:
    add_sms(
        app,
        {SmsStatus.SENT: 3, SmsStatus.DELIVERED: 2, SmsStatus.FAILED: 1, SmsStatus.QUEUED: 4},
        {InboundStatus.PROCESSED: 2, InboundStatus.FAILED: 1},
    )

    samples = scrape(client)

    outbound = {
        dict(labels)["status"]: v
        for (name, labels), v in samples.items()
        if name == "ngazi_sms_messages"
    }
    assert outbound == {
        "queued": 4,
        "sending": 0,
        "sent": 3,
        "delivered": 2,
        "failed": 1,
        "rejected": 0,
        "skipped": 0,
    }
    inbound = {
        dict(labels)["status"]: v
        for (name, labels), v in samples.items()
        if name == "ngazi_inbound_sms_messages"
    }
    assert inbound == {"received": 0, "processed": 2, "failed": 1, "throttled": 0}


def test_sms_counts_are_cached_between_scrapes(app: Flask, client: FlaskClient) -> None:
    add_sms(app, {SmsStatus.SENT: 1}, {})
    assert value(scrape(client), "ngazi_sms_messages", status="sent") == 1

    add_sms(app, {SmsStatus.SENT: 2}, {})
    # Counted again only after DB_CACHE_SECONDS: a scrape does not scan the table each time.
    assert value(scrape(client), "ngazi_sms_messages", status="sent") == 1
    metrics.clear_cache()
    assert value(scrape(client), "ngazi_sms_messages", status="sent") == 3


# -- queues ----------------------------------------------------------------------------


def test_queue_depth_and_failed_jobs(app: Flask, client: FlaskClient) -> None:
    waiting = Queue("sms", connection=redis_of(app))  # asynchronous: the jobs wait
    waiting.enqueue("tests.test_console_queues.flaky", "q1")
    waiting.enqueue("tests.test_console_queues.flaky", "q2")
    fail_a_job(app, "q3", "campaigns")

    samples = scrape(client)

    depth = {
        q: value(samples, "ngazi_rq_queue_depth", queue=q)
        for q in ("sms", "inbound", "default", "campaigns")
    }
    assert depth == {"sms": 2, "inbound": 0, "default": 0, "campaigns": 0}
    assert value(samples, "ngazi_rq_failed_jobs", queue="campaigns") == 1
    assert value(samples, "ngazi_rq_failed_jobs", queue="sms") == 0
    assert value(samples, "ngazi_rq_workers") == 0


# -- access ----------------------------------------------------------------------------


@pytest.fixture
def token(app: Flask) -> Iterator[str]:
    app.config["METRICS_TOKEN"] = "scrape-me-5f1c"
    yield "scrape-me-5f1c"
    app.config["METRICS_TOKEN"] = ""


def test_a_token_is_required_when_set(client: FlaskClient, token: str) -> None:
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "ngazi_" not in missing.get_data(as_text=True)
    wrong = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-5f1d"})
    assert wrong.status_code == 401
    basic = client.get("/metrics", headers={"Authorization": f"Basic {token}"})
    assert basic.status_code == 401

    samples = scrape(client, headers={"Authorization": f"Bearer {token}"})
    assert "ngazi_ussd_hops_total" in names(samples)
    remote = scrape(
        client,
        headers={"Authorization": f"Bearer {token}"},
        environ_base={"REMOTE_ADDR": "10.0.0.5"},
    )
    assert "ngazi_rq_queue_depth" in names(remote)


def test_without_a_token_only_local_clients_may_read(client: FlaskClient) -> None:
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert remote.status_code == 403
    assert "METRICS_TOKEN" in remote.get_data(as_text=True)
    for local in ("127.0.0.1", "::1"):
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": local}).status_code == 200


def test_metrics_need_no_console_sign_in(client: FlaskClient) -> None:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert "Set-Cookie" not in resp.headers


# -- sources down ----------------------------------------------------------------------


def test_redis_down_leaves_the_queues_out(app: Flask, client: FlaskClient) -> None:
    add_sms(app, {SmsStatus.DELIVERED: 2}, {})
    before = scrape(client)
    metrics.clear_cache()
    real = app.extensions["ngazi_redis"]
    app.extensions["ngazi_redis"] = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    try:
        after = scrape(client)
    finally:
        app.extensions["ngazi_redis"] = real

    assert not names(after) & {"ngazi_rq_queue_depth", "ngazi_rq_failed_jobs", "ngazi_rq_workers"}
    assert value(after, "ngazi_sms_messages", status="delivered") == 2
    assert (
        value(after, "ngazi_metrics_errors_total", source="redis")
        - value(before, "ngazi_metrics_errors_total", source="redis")
        == 1
    )
    assert value(after, "ngazi_metrics_errors_total", source="database") == value(
        before, "ngazi_metrics_errors_total", source="database"
    )


def test_database_down_leaves_the_sms_out(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = scrape(client)
    metrics.clear_cache()

    def down(*args: Any) -> dict[str, int]:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(metrics, "_count_by_status", down)
    after = scrape(client)

    assert not names(after) & {"ngazi_sms_messages", "ngazi_inbound_sms_messages"}
    assert "ngazi_rq_queue_depth" in names(after)
    assert (
        value(after, "ngazi_metrics_errors_total", source="database")
        - value(before, "ngazi_metrics_errors_total", source="database")
        == 2
    )  # one per table
    monkeypatch.undo()
    assert "ngazi_sms_messages" in names(scrape(client))  # a failure is not cached


# -- several processes -----------------------------------------------------------------

HOP_THEN_EXIT = """
from app import create_app
app = create_app({"TESTING": True})
form = {"sessionId": "p", "serviceCode": "*999#", "phoneNumber": "+254700000101", "text": ""}
token = {"token": app.config["WEBHOOK_TOKEN"]}
assert app.test_client().post("/ussd", data=form, query_string=token).status_code == 200
"""

SCRAPE = """
from app import create_app
app = create_app({"TESTING": True})
print(app.test_client().get("/metrics").get_data(as_text=True))
"""


def test_multiprocess_mode_sums_every_process(base_config: dict[str, Any], tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, hops counted by processes that have ended
    (gunicorn workers) show in another process's scrape."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
        "DATABASE_URL": base_config["DATABASE_URL"],
        "NGAZI_INSTANCE_DIR": base_config["INSTANCE_DIR"],
    }
    for _ in range(2):
        subprocess.run([sys.executable, "-c", HOP_THEN_EXIT], env=env, cwd=ROOT, check=True)
    out = subprocess.run(
        [sys.executable, "-c", SCRAPE],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    samples = parse(out)
    assert value(samples, "ngazi_ussd_hops_total", outcome="END") == 2
    assert value(samples, "ngazi_ussd_hop_seconds_count", outcome="END") == 2
    assert value(samples, "ngazi_ussd_hops_total", outcome="CON") == 0
    assert "ngazi_rq_queue_depth" in names(samples)

"""What one USSD hop costs in-process, with and without the per-MSISDN limiter:
``.venv/bin/python -m bench.hop_cost`` (not part of ``make bench``; seconds).

``bench.ussd`` measures hops per second under gunicorn and wrk, where the HTTP
server, PostgreSQL and the load generator share the two cores. This isolates the
app's own work: N main-menu hops by returning callers through Flask's test
client, against real Redis (``BENCH_HOP_REDIS_URL``, default db 6, flushed) and
an SQLite file, once with ``USSD_MSISDN_LIMIT`` at its default and once with it
off, alternating, best of ``BENCH_HOP_ROUNDS`` each. Prints milliseconds per
hop; the difference is the limiter's Redis round trip (``app.abuse``).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from flask import Flask

from app import create_app
from app.db import upgrade

SERVICE_CODE = "*384*1234#"


def _app(db_url: str, redis_url: str, limit: str) -> Flask:
    return create_app(
        {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "USSD_MSISDN_LIMIT": limit,
            "WEBHOOK_TOKEN": "bench-hop-token",
            "SIMULATOR": False,
        }
    )


def _hops(app: Flask, n: int, first: int) -> float:
    """Milliseconds per hop over ``n`` main-menu hops by returning callers."""
    client = app.test_client()
    started = time.perf_counter()
    for i in range(first, first + n):
        form = {
            "sessionId": f"hop{i}",
            "serviceCode": SERVICE_CODE,
            "phoneNumber": f"+2547001{i % 5000:05d}",
            "networkCode": "63902",
            "text": "",
        }
        client.post("/ussd?token=bench-hop-token", data=form)
    return (time.perf_counter() - started) / n * 1000


def main() -> None:
    redis_url = os.environ.get("BENCH_HOP_REDIS_URL", "redis://127.0.0.1:6379/6")
    n = int(os.environ.get("BENCH_HOP_COUNT", "3000"))
    rounds = int(os.environ.get("BENCH_HOP_ROUNDS", "3"))
    with tempfile.TemporaryDirectory() as folder:
        db_url = f"sqlite:///{Path(folder) / 'hop.db'}"
        upgrade(db_url)
        apps = {
            "limiter on (USSD_MSISDN_LIMIT default)": _app(db_url, redis_url, "60 per minute"),
            "limiter off (USSD_MSISDN_LIMIT=0)": _app(db_url, redis_url, "0"),
        }
        next(iter(apps.values())).extensions["ngazi_redis"].flushdb()
        for app in apps.values():  # warm up: every caller known, caches filled
            _hops(app, 5000, 0)
        best = {name: float("inf") for name in apps}
        for r in range(rounds):
            for name, app in apps.items():
                best[name] = min(best[name], _hops(app, n, 100_000 * (r + 1)))
    for name, ms in best.items():
        print(f"{name}: {ms:.3f} ms/hop (best of {rounds} x {n} hops)")
    on, off = best.values()
    print(f"the limiter: {on - off:.3f} ms/hop ({(on - off) / on:.0%} of a hop)")


if __name__ == "__main__":
    main()

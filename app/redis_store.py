"""The Redis connection: real Redis at ``REDIS_URL``, else an in-process fakeredis.

The fakeredis server is shared by every app created in the process, so the
web layer and inline RQ jobs see the same data, as they would with a real server.
"""

from __future__ import annotations

from typing import Any

import redis
from flask import Flask, current_app

_FAKE_SERVER: Any = None


def make_redis(url: str) -> redis.Redis:
    """Return a client for ``url``, or for the process's fakeredis when ``url`` is empty.

    Timeouts are short: a USSD hop must fail fast, not hang, when Redis is away.
    """
    if url:
        return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    import fakeredis

    global _FAKE_SERVER
    if _FAKE_SERVER is None:
        _FAKE_SERVER = fakeredis.FakeServer()
    return fakeredis.FakeRedis(server=_FAKE_SERVER)


def get_redis() -> redis.Redis:
    return current_app.extensions["ngazi_redis"]  # type: ignore[no-any-return]


def ping() -> bool:
    try:
        return bool(get_redis().ping())
    except redis.RedisError:
        return False


def init_app(app: Flask) -> None:
    app.extensions["ngazi_redis"] = make_redis(app.config["REDIS_URL"])

"""The Redis connection: real Redis at ``REDIS_URL``, else an in-process fakeredis.

``REDIS_URL`` is either one server (``redis://[[user]:password@]host:6379/0``,
``rediss://`` for TLS, ``unix://``; redis-py's forms) or a Redis Sentinel
deployment::

    redis+sentinel://[[user]:password@]sentinel1:26379,sentinel2:26379/<service>[/<db>]
        [?sentinel_password=…]

The sentinels are asked for the current primary of ``<service>`` (the name in
their ``sentinel monitor`` line) on every new connection, so after a failover
the next command goes to the promoted replica. The credentials are the data
servers'; ``sentinel_password`` is for sentinels that require one. The same
scheme as the ``limits`` library's sentinel storage. Source: Redis Sentinel
clients guide (https://redis.io/docs/latest/develop/reference/sentinel-clients/).

The fakeredis server is shared by every app created in the process, so the
web layer and inline RQ jobs see the same data, as they would with a real server.
"""

from __future__ import annotations

import urllib.parse
from typing import Any, NamedTuple

import redis
from flask import Flask, current_app

_FAKE_SERVER: Any = None

#: Seconds to wait for Redis (a USSD hop must fail fast, not hang, when it is away).
TIMEOUT = 2.0
SENTINEL_SCHEME = "redis+sentinel"


class SentinelUrl(NamedTuple):
    """A parsed ``redis+sentinel://`` URL."""

    sentinels: list[tuple[str, int]]
    service: str
    db: int
    username: str | None
    password: str | None
    sentinel_password: str | None


def parse_sentinel_url(url: str) -> SentinelUrl:
    """Parse a ``redis+sentinel://`` URL (module docstring). Raises ValueError,
    naming the part, for a missing service name, a bad port or database."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(f"not a {SENTINEL_SCHEME}:// URL")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username = password = None
    if userinfo:
        user, _, secret = userinfo.partition(":")
        username = urllib.parse.unquote(user) or None
        password = urllib.parse.unquote(secret) or None
    sentinels: list[tuple[str, int]] = []
    for location in hosts.split(","):
        location = location.strip()
        host, _, port = location.rpartition(":")
        if not host or location.endswith("]"):  # no port: "sentinel1", "[::1]"
            host, port = location, "26379"
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"REDIS_URL: bad sentinel port in {location!r}")
        sentinels.append((host.strip("[]"), int(port)))
    path = [p for p in parts.path.split("/") if p]
    if not path or not hosts:
        raise ValueError("REDIS_URL: a sentinel URL needs sentinels and a service name")
    if len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ValueError("REDIS_URL: after the service name only a database number may follow")
    query = urllib.parse.parse_qs(parts.query)
    return SentinelUrl(
        sentinels=sentinels,
        service=urllib.parse.unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=username,
        password=password,
        sentinel_password=query["sentinel_password"][0] if "sentinel_password" in query else None,
    )


def make_redis(url: str) -> redis.Redis:
    """Return a client for ``url`` (module docstring), or for the process's
    fakeredis when ``url`` is empty. Raises ValueError for a malformed sentinel URL.

    Timeouts are short (``TIMEOUT``): a USSD hop must fail fast, not hang, when
    Redis is away.
    """
    if url.startswith(SENTINEL_SCHEME + "://"):
        from redis.sentinel import Sentinel

        spec = parse_sentinel_url(url)
        sentinel_kwargs: dict[str, Any] = {
            "socket_timeout": TIMEOUT,
            "socket_connect_timeout": TIMEOUT,
        }
        if spec.sentinel_password:
            sentinel_kwargs["password"] = spec.sentinel_password
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            spec.sentinels,
            sentinel_kwargs=sentinel_kwargs,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
        )
        return sentinel.master_for(  # type: ignore[no-untyped-call,no-any-return]
            spec.service, db=spec.db, username=spec.username, password=spec.password
        )
    if url:
        return redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
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

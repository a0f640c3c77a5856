"""The Redis connection: real Redis at ``REDIS_URL``, else an in-process fakeredis.

``REDIS_URL`` is either one server (``redis://[[user]:password@]host:6379/0``,
``rediss://`` for TLS, ``unix://``; redis-py's forms) or a Redis Sentinel
deployment::

    redis+sentinel://[[user]:password@]sentinel1:26379,sentinel2:26379/<service>[/<db>]
        [?sentinel_password=…]

The sentinels are asked for the current primary of ``<service>`` (the name in
their ``sentinel monitor`` line) on every new connection, so after a failover
the next command goes to the promoted replica. The credentials are the data
servers'; ``sentinel_password`` is for sentinels that require one. TLS through
Sentinel (``rediss+sentinel://``) is not supported, and refused. The same
scheme as the ``limits`` library's sentinel storage. Source: Redis Sentinel
clients guide (https://redis.io/docs/latest/develop/reference/sentinel-clients/).

The fakeredis server is shared by every app created in the process, so the
web layer and inline RQ jobs see the same data, as they would with a real server.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any, NamedTuple

import redis
from flask import Flask, current_app

_FAKE_SERVER: Any = None

#: Seconds to wait for Redis (a USSD hop must fail fast, not hang, when it is away).
TIMEOUT = 2.0
#: Seconds to wait for each sentinel (on the local network: a silent one is skipped).
SENTINEL_TIMEOUT = 0.5
SENTINEL_SCHEME = "redis+sentinel"


class SentinelUrl(NamedTuple):
    """A parsed ``redis+sentinel://`` URL."""

    sentinels: list[tuple[str, int]]
    service: str
    db: int
    username: str | None
    password: str | None
    sentinel_password: str | None


_LOCATION = re.compile(
    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9._-]+))(?::(?P<port>[0-9]{1,5}))?",
    re.ASCII,
)


def parse_sentinel_url(url: str) -> SentinelUrl:
    """Parse a ``redis+sentinel://`` URL (module docstring). Raises ValueError
    naming ``REDIS_URL`` and the part that is wrong, never echoing the URL (it
    may hold a password): a location that is not ``host[:port]`` (IPv6 in
    brackets), a missing service name, a database that is not a number, an
    unknown or repeated option."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(f"REDIS_URL: not a {SENTINEL_SCHEME}:// URL")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username = password = None
    if userinfo:
        user, _, secret = userinfo.partition(":")
        username = urllib.parse.unquote(user) or None
        password = urllib.parse.unquote(secret) or None
    sentinels: list[tuple[str, int]] = []
    locations = hosts.split(",")
    for n, location in enumerate(locations, 1):
        found = _LOCATION.fullmatch(location.strip())
        port = int(found["port"]) if found and found["port"] else 26379
        if found is None or not 0 < port < 65536:
            raise ValueError(
                f"REDIS_URL: sentinel {n} of {len(locations)} is not host[:port] (an IPv6"
                " address goes in brackets; a '/', '@' or ':' in a password must be"
                " percent-encoded)"
            )
        sentinels.append((found["ipv6"] or found["host"], port))
    path = parts.path.split("/")[1:]
    if not path or not path[0] or len(path) > 2:
        raise ValueError("REDIS_URL: a sentinel URL ends /<service name>[/<database>]")
    db = path[1] if len(path) == 2 else "0"
    if not (db.isascii() and db.isdigit() and int(db) < 2**31):
        raise ValueError("REDIS_URL: the database after the service name must be a number")
    options: dict[str, str] = {}
    for pair in filter(None, parts.query.split("&")):
        key, _, value = pair.partition("=")
        if key != "sentinel_password" or key in options:
            raise ValueError("REDIS_URL: the only option is sentinel_password=, once")
        options[key] = urllib.parse.unquote(value)  # "+" is a plus, as in the password
    return SentinelUrl(
        sentinels=sentinels,
        service=urllib.parse.unquote(path[0]),
        db=int(db),
        username=username,
        password=password,
        sentinel_password=options.get("sentinel_password") or None,
    )


def make_redis(url: str) -> redis.Redis:
    """Return a client for ``url`` (module docstring), or for the process's
    fakeredis when ``url`` is empty. Raises ValueError, naming ``REDIS_URL``,
    for a malformed URL.

    Timeouts are short: a USSD hop must fail fast, not hang, when Redis is away
    (``TIMEOUT`` for a server, ``SENTINEL_TIMEOUT`` for each sentinel asked, and
    no retries: the caller is told "busy" and tries again).
    """
    url = url.strip()
    scheme = url.partition("://")[0].lower()
    if scheme in (SENTINEL_SCHEME, "rediss+sentinel"):
        if scheme != SENTINEL_SCHEME:
            raise ValueError("REDIS_URL: TLS through Sentinel is not supported")
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        from redis.sentinel import Sentinel

        spec = parse_sentinel_url(SENTINEL_SCHEME + url[len(scheme) :])
        sentinel_kwargs: dict[str, Any] = {
            "socket_timeout": SENTINEL_TIMEOUT,
            "socket_connect_timeout": SENTINEL_TIMEOUT,
            "retry": Retry(NoBackoff(), 0),
        }
        if spec.sentinel_password:
            sentinel_kwargs["password"] = spec.sentinel_password
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            spec.sentinels,
            sentinel_kwargs=sentinel_kwargs,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        return sentinel.master_for(  # type: ignore[no-untyped-call,no-any-return]
            spec.service, db=spec.db, username=spec.username, password=spec.password
        )
    if url:
        try:
            return redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        except ValueError as exc:
            raise ValueError(f"REDIS_URL: {exc}") from None
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

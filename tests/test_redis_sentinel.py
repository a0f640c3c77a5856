"""Redis behind Sentinel (``REDIS_URL=redis+sentinel://…``): a primary, a replica
and a sentinel of our own, started for this module from the machine's
``redis-server``; the primary is killed mid-session and the sentinel promotes
the replica. Callers go on where they were; what was queued is still queued.

Needs the real services' run (the session database is PostgreSQL there).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from app import create_app
from app.redis_store import make_redis, parse_sentinel_url
from tests.conftest import ussd_form
from workers import DEFAULT, queue

pytestmark = pytest.mark.real_services

SERVICE = "ngazi-test"
REDIS_SERVER = shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (redis.RedisError, OSError):
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Servers:
    """A primary, its replica and one sentinel (quorum 1), on free ports."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports = {name: _free_port() for name in ("a", "b", "sentinel")}

    def start(self) -> None:
        """Start the three and wait until the sentinel knows both servers."""
        assert REDIS_SERVER is not None
        folder = self.folder
        for name in ("a", "b"):
            args = ["--port", str(self.ports[name]), "--bind", "127.0.0.1", "--save", ""]
            args += ["--appendonly", "no", "--dir", str(folder)]
            if name == "b":
                args += ["--replicaof", "127.0.0.1", str(self.ports["a"])]
            self._start(name, [REDIS_SERVER, *args])
        conf = folder / "sentinel.conf"  # the sentinel rewrites its own file
        conf.write_text(
            f"port {self.ports['sentinel']}\nbind 127.0.0.1\ndir {folder}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.ports['a']} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 10000\n"
        )
        self._start("sentinel", [REDIS_SERVER, str(conf), "--sentinel"])
        self.b = redis.Redis(port=self.ports["b"])
        _wait(lambda: self.b.info("replication").get("master_link_status") == "up", 15, "replica")
        self.sentinel = redis.Redis(port=self.ports["sentinel"])
        _wait(lambda: self.primary_port() == self.ports["a"], 15, "the sentinel")
        # It learns of the replica from the primary (INFO, every 10 s at first).
        _wait(self._replica_known, 30, "the sentinel to find the replica")

    def _replica_known(self) -> bool:
        return any(
            int(r["port"]) == self.ports["b"] and not r["is_sdown"] and not r["is_disconnected"]
            for r in self.sentinel.sentinel_slaves(SERVICE)
        )

    def _start(self, name: str, argv: list[str]) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def url(self, db: int = 0) -> str:
        return f"redis+sentinel://127.0.0.1:{self.ports['sentinel']}/{SERVICE}/{db}"

    def primary_port(self) -> int:
        _host, port = self.sentinel.execute_command("SENTINEL GET-MASTER-ADDR-BY-NAME", SERVICE)
        return int(port)

    def kill(self, name: str) -> None:
        self.procs[name].kill()
        self.procs[name].wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    s = Servers(tmp_path)
    try:  # stopped even when starting fails half-way
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture
def sentinel_app(app: Flask, servers: Servers) -> Flask:
    """The test app's configuration and database, with Redis through the sentinel."""
    config = {key: app.config[key] for key in ("DATABASE_URL", "INSTANCE_DIR", "WEBHOOK_TOKEN")}
    return create_app(
        {
            **config,
            "TESTING": True,
            "REDIS_URL": servers.url(),
            "SIMULATOR": True,
            "USSD_MSISDN_LIMIT": "60 per minute",  # counted in Redis too
            "SMS_MSISDN_LIMIT": "0",
        }
    )


def _hop(app: Flask, session_id: str, text: str, msisdn: str = "+254700000101") -> str:
    form = ussd_form(session_id, text, msisdn)
    return str(app.test_client().post("/ussd", data=form).get_data(as_text=True))


def test_sessions_and_queues_go_through_the_sentinel_and_survive_a_failover(
    sentinel_app: Flask, servers: Servers
) -> None:
    # What three hops show a caller when nothing fails.
    # (Another caller: a caller's first hops set their language.)
    expected = [_hop(sentinel_app, "reference", t, "+254700000102") for t in ("", "1", "1*1")]
    assert all(answer.startswith("CON ") for answer in expected)
    assert _hop(sentinel_app, "sentinel-1", "") == expected[0]
    a = redis.Redis(port=servers.ports["a"])
    assert a.exists("ngazi:ussd:session:sentinel-1"), "not on the primary the sentinel named"
    assert _hop(sentinel_app, "sentinel-1", "1") == expected[1]
    with sentinel_app.app_context():
        job = queue(DEFAULT).enqueue("builtins.print", "queued before the failover")
    # The replica has what the primary had, then the primary dies.
    _wait(lambda: servers.b.exists("ngazi:ussd:session:sentinel-1"), 10, "replication")
    _wait(lambda: servers.b.exists(f"rq:job:{job.id}"), 10, "replication")
    servers.kill("a")
    _wait(lambda: servers.primary_port() == servers.ports["b"], 30, "the failover")

    # The caller's next hop goes on from the same screen (the session was
    # replicated): at most a "busy" while the client finds the new primary.
    busy = 0
    while (answer := _hop(sentinel_app, "sentinel-1", "1*1")).startswith("END ") and busy < 20:
        busy += 1
        time.sleep(0.2)
    assert answer == expected[2], answer
    assert busy <= 1
    assert servers.b.info("replication")["role"] == "master"
    with sentinel_app.app_context():
        assert job.id in queue(DEFAULT).job_ids  # nothing queued was lost


def test_a_sentinel_url_is_parsed_and_a_bad_one_is_refused() -> None:
    spec = parse_sentinel_url("redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2/ngazi/2")
    assert spec.sentinels == [("10.0.0.1", 26379), ("10.0.0.2", 26379)]
    assert (spec.service, spec.db, spec.password) == ("ngazi", 2, "s3cret")
    assert parse_sentinel_url("redis+sentinel://[::1]:26380/ngazi").sentinels == [("::1", 26380)]
    assert parse_sentinel_url("redis+sentinel://[fd00::1]/ngazi").sentinels == [("fd00::1", 26379)]
    plus = parse_sentinel_url("redis+sentinel://:a%2Fb+c@s1/ngazi?sentinel_password=Ab+9%26")
    assert (plus.password, plus.sentinel_password) == ("a/b+c", "Ab+9&")
    for bad in (
        "redis+sentinel://10.0.0.1:26379/",  # no service name
        "redis+sentinel:///ngazi",  # no sentinel
        "redis+sentinel://10.0.0.1:port/ngazi",
        "redis+sentinel://10.0.0.1:99999/ngazi",
        "redis+sentinel://10.0.0.1/ngazi/zero",
        "redis+sentinel://10.0.0.1/ngazi/\u0663",  # an Arabic-Indic three
        "redis+sentinel://10.0.0.1/ngazi/1/2",
        "redis+sentinel://2001:db8::26/ngazi",  # IPv6 without brackets
        "redis+sentinel://:26379/ngazi",  # no host
        "redis+sentinel://s1:26379,/ngazi",  # a trailing comma
        "redis+sentinel://s2:26379:26380/ngazi",
        "redis+sentinel://s1/ngazi?db=5",  # the database goes in the path
        "redis+sentinel://s1/ngazi?sentinel_password=a&sentinel_password=b",
        "rediss+sentinel://s1/ngazi",
        "redis+sentinel:/s1/ngazi",
    ):
        with pytest.raises(ValueError, match="REDIS_URL"):
            make_redis(bad)
    # A password with a "/" not percent-encoded: refused without showing it.
    with pytest.raises(ValueError, match="REDIS_URL") as refused:
        make_redis("redis+sentinel://user:Zx9/Qw7@s1/ngazi")
    assert "Zx9" not in str(refused.value) and "Qw7" not in str(refused.value)
    # Spelled in capitals, or with the spaces a .env file leaves: the same URL.
    assert make_redis(" REDIS+SENTINEL://127.0.0.1:1/ngazi ") is not None


def test_unreachable_sentinels_answer_busy_quickly() -> None:
    """Each sentinel is given half a second and no retry: a hop that cannot
    find the primary fails in about that, not the minute redis-py's defaults
    would take."""
    with socket.socket() as silent:  # listens, never accepts: a sentinel that hangs
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        port = silent.getsockname()[1]
        client = make_redis(f"redis+sentinel://127.0.0.1:{port},127.0.0.1:{_free_port()}/ngazi")
        started = time.monotonic()
        with pytest.raises(redis.RedisError):
            client.ping()
        assert time.monotonic() - started < 2.5

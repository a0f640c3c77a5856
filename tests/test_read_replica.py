"""The console's read-only pages on a streaming replica (``DATABASE_REPLICA_URL``).

A primary and a hot standby of our own, made for this module with the machine's
PostgreSQL programs (``initdb``, ``pg_basebackup -R``): replay on the standby is
paused, so what a page shows tells which server it read. Writes (the audit
log) go to the primary; a standby that stops answering sends the reads back to
the primary.

Needs the real services' run, and PostgreSQL's server programs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, delete, func, select, text, update
from sqlalchemy.exc import InternalError, OperationalError

from app import create_app
from app.db import db_session, read_session, upgrade
from domain import demo
from models import AuditEvent, Household
from tests.factories import create_completed_household
from tests.test_console_auth import PASSWORD, login, make_user

pytestmark = pytest.mark.real_services


def _bindir() -> Path | None:
    try:
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
    except OSError:
        return None
    path = Path(found.stdout.strip())
    return path if (path / "initdb").exists() and (path / "pg_basebackup").exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Pair:
    """A primary and its streaming standby in a temporary folder, run as the
    ``postgres`` user when the tests run as root (the server refuses root)."""

    def __init__(self, bindir: Path) -> None:
        self.bin = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="ngazi-replica-"))
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self.ports = {"primary": _free_port(), "standby": _free_port()}

    def build(self) -> None:
        """Make and start the primary, then its standby (``pg_basebackup -R``)."""
        primary, standby = self.folder / "primary", self.folder / "standby"
        self._run("initdb", "-D", str(primary), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        self._conf(primary, self.ports["primary"])
        self.start("primary")
        self._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.ports["primary"]),
            "-U", "postgres", "-D", str(standby), "-R", "-X", "stream",
        )  # fmt: skip
        self._conf(standby, self.ports["standby"])
        self.start("standby")

    def _run(self, program: str, *args: str) -> None:
        argv = [str(self.bin / program), *args]
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, cwd=self.folder, timeout=120)

    def _conf(self, data: Path, port: int) -> None:
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.folder}'\nfsync = off\n"
                "hot_standby = on\nmax_connections = 40\n"
            )

    def url(self, which: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.ports[which]}/postgres"

    def sql(self, which: str, statement: str) -> object:
        engine = create_engine(self.url(which), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                result = conn.execute(text(statement))
                return result.scalar() if result.returns_rows else None
        finally:
            engine.dispose()

    def caught_up(self, timeout: float = 20) -> None:
        """Wait until the standby has replayed everything the primary wrote."""
        lsn = self.sql("primary", "SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + timeout
        query = f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"
        while not self.sql("standby", query):
            assert time.monotonic() < deadline, "the standby did not catch up"
            time.sleep(0.05)

    def start(self, which: str) -> None:
        log = str(self.folder / f"{which}.log")
        self._run("pg_ctl", "-D", str(self.folder / which), "-l", log, "-w", "start")

    def stop(self, which: str) -> None:
        data = self.folder / which
        self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        for which in ("standby", "primary"):
            if (self.folder / which / "postmaster.pid").exists():
                try:
                    self.stop(which)
                except subprocess.CalledProcessError:
                    pass  # stopped already
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL's server programs (initdb, pg_basebackup) are not installed")
    made = Pair(bindir)
    try:  # removed even when building fails half-way
        made.build()
        yield made
    finally:
        made.remove()


@pytest.fixture(scope="module")
def replica_app(pair: Pair, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    upgrade(pair.url("primary"))
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": pair.url("primary"),
            "DATABASE_REPLICA_URL": pair.url("standby"),
            "INSTANCE_DIR": str(tmp_path_factory.mktemp("replica-instance")),
            "USSD_MSISDN_LIMIT": "0",
            "SMS_MSISDN_LIMIT": "0",
        }
    )
    with app.app_context():
        demo.load_areas(db_session())
        demo.load_surveys(db_session())
        demo.load_staff(db_session())
        village = db_session().scalar(text("SELECT id FROM area WHERE name = 'Ahero'"))
        create_completed_household(
            db_session(),
            cadre_msisdn="+254700000901",
            village=str(village),
            head_name="Achieng Otieno",
            head_phone="+254711000111",
        )
    make_user(app, "otieno", name="Otieno Ouma")
    pair.caught_up()
    return app


def _audit_events(app: Flask) -> int:
    with app.app_context():
        return int(db_session().scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_pages_read_the_replica_and_write_the_audit_log_to_the_primary(
    pair: Pair, replica_app: Flask
) -> None:
    assert pair.sql("standby", "SELECT pg_is_in_recovery()") is True
    client = replica_app.test_client()
    assert login(client, "otieno", PASSWORD).status_code == 302
    pair.sql("standby", "SELECT pg_wal_replay_pause()")
    try:
        with replica_app.app_context():  # on the primary only, while replay waits
            db = db_session()
            db.execute(update(Household).values(head_name="Akinyi Otieno"))
            db.commit()
        before = _audit_events(replica_app)
        page = client.get("/console/households?q=otieno")
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        assert "Achieng Otieno" in body and "Akinyi" not in body  # the standby's copy
        assert _audit_events(replica_app) == before + 1  # written to the primary
        with replica_app.app_context():
            read = read_session()
            assert read is not db_session()
            # Read-only: nothing can be written through it, even by mistake.
            with pytest.raises(InternalError, match="read-only"):
                read.execute(delete(AuditEvent))
            read.rollback()
    finally:
        pair.sql("standby", "SELECT pg_wal_replay_resume()")
    pair.caught_up()
    body = client.get("/console/households?q=otieno").get_data(as_text=True)
    assert "Akinyi Otieno" in body
    assert client.get("/console/analytics").status_code == 200


@pytest.mark.parametrize("mistake", ["no SELECT privilege", "no schema"])
def test_a_replica_that_cannot_serve_the_pages_sends_the_reads_to_the_primary(
    pair: Pair, replica_app: Flask, mistake: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Set up wrong (a role never granted SELECT, the wrong database): the pages
    still answer, from the primary, and the log says why."""
    if mistake == "no SELECT privilege":
        pair.sql("primary", "DROP ROLE IF EXISTS ngazi_ro")
        pair.sql("primary", "CREATE ROLE ngazi_ro LOGIN")  # no GRANT
        pair.caught_up()
        url = pair.url("standby").replace("postgres@", "ngazi_ro@")
    else:
        url = pair.url("standby").rsplit("/", 1)[0] + "/template1"
    app = create_app({**replica_app.config, "DATABASE_REPLICA_URL": url})
    with replica_app.app_context():
        db_session().execute(update(Household).values(head_name="Awino Otieno"))
        db_session().commit()
    client = app.test_client()
    assert login(client, "otieno", PASSWORD).status_code == 302
    with caplog.at_level("WARNING", logger="app.db"):
        page = client.get("/console/households?q=otieno")
    assert page.status_code == 200
    assert "Awino Otieno" in page.get_data(as_text=True)  # read from the primary
    why = "permission denied" if mistake == "no SELECT privilege" else "does not exist"
    assert any("replica not used" in r.message and why in r.message for r in caplog.records)


def test_a_replica_that_stops_answering_sends_the_reads_to_the_primary(
    pair: Pair, replica_app: Flask
) -> None:
    client = replica_app.test_client()
    assert login(client, "otieno", PASSWORD).status_code == 302
    with replica_app.app_context():
        db_session().execute(update(Household).values(head_name="Adhiambo Otieno"))
        db_session().commit()
    pair.stop("standby")
    started = time.monotonic()
    page = client.get("/console/households?q=otieno")
    assert page.status_code == 200
    assert "Adhiambo Otieno" in page.get_data(as_text=True)  # only the primary has it
    assert time.monotonic() - started < 5  # one connect timeout (2 s) at most
    # Then the replica is not tried again for a while: the next page is quick.
    started = time.monotonic()
    assert client.get("/console/households?q=otieno").status_code == 200
    assert time.monotonic() - started < 1
    with replica_app.app_context(), pytest.raises(OperationalError):
        replica_app.extensions["ngazi_read_db"].connection()

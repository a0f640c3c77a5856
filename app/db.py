"""The database: one engine per app, one session per request or job.

``db_session()`` gives the scoped session; it is removed at the end of every
app context, so a request or a job never sees another's objects.

``read_session()`` is for the console's read-only pages (analytics, household
search and records, exports): on the streaming replica at
``DATABASE_REPLICA_URL`` when one is set, else the same session as
``db_session()``. Its transactions are read-only. When the replica cannot be
used (unreachable, refusing, at another schema version), reads go to the
primary for ``REPLICA_RETRY_SECONDS`` before the replica is tried again
(docs/deploy.md, "PostgreSQL").
"""

from __future__ import annotations

import logging
import time
from functools import cache
from pathlib import Path
from typing import Any, cast

import click
from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from app.config import ROOT

log = logging.getLogger(__name__)

#: Seconds the reads stay on the primary after the replica failed to answer.
REPLICA_RETRY_SECONDS = 30.0


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite gets foreign keys and a busy timeout.

    ``hide_parameters``: a database error's text (logged, or stored as an inbound
    SMS's ``error``) names the statement but not its values, which are phone
    numbers, names, SMS texts and PIN hashes (docs/privacy.md)."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 15, "check_same_thread": False},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # SQLite's lower() folds ASCII only; PostgreSQL's folds every letter.
            # The same on both, so a search for "élodie" finds "ÉLODIE" here too.
            dbapi_conn.create_function("lower", 1, _lower, deterministic=True)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    # A USSD hop must answer in well under a second: never wait long for a connection.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_timeout=2,
        hide_parameters=True,
        connect_args={"connect_timeout": 2} if url.startswith("postgresql") else {},
    )


#: libpq settings for the replica's connections: a replica that stops answering
#: mid-query (a network cut, a dead machine) fails the read in seconds instead of
#: holding a web thread (TCP keepalives, and tcp_user_timeout for unacknowledged
#: data). A server process frozen behind a live kernel is not caught by these.
REPLICA_CONNECT_ARGS = {
    "connect_timeout": 2,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 5000,  # ms
}


def make_replica_engine(url: str) -> Engine:
    """The read-only engine for ``DATABASE_REPLICA_URL``. Raises ValueError
    naming the setting for a URL that is not PostgreSQL's (a replica is a
    streaming standby; an SQLite file would be created, and written)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise ValueError("DATABASE_REPLICA_URL: not a database URL") from None
    if backend != "postgresql":
        raise ValueError("DATABASE_REPLICA_URL: a replica must be a PostgreSQL URL")
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_timeout=2,
        hide_parameters=True,
        connect_args=REPLICA_CONNECT_ARGS,
    )
    return engine.execution_options(postgresql_readonly=True)


def db_session() -> Session:
    """This request's (or job's) session; removed when the app context ends.

    It is the scoped-session proxy: the ``Session`` is only created when first
    used, so a USSD hop that never touches the database pays nothing for it.
    """
    return cast(Session, current_app.extensions["ngazi_db"])


def read_session() -> Session:
    """A session for reads that may be a moment behind the primary (module
    docstring): the replica's when ``DATABASE_REPLICA_URL`` is set and it
    answers, else ``db_session()``. Nothing may be written through it: on the
    replica PostgreSQL refuses (read-only transactions), so write audit events
    and the like through ``db_session()``.

    Before a request's first read, the replica is asked for its schema version
    (``alembic_version``): unreachable, refusing (a role without ``SELECT``), a
    database with no schema or one at another migration than this code's, and
    the reads go to the primary for ``REPLICA_RETRY_SECONDS``, with a warning
    that says why."""
    replica = current_app.extensions.get("ngazi_read_db")
    if replica is None:
        return db_session()
    state = current_app.extensions["ngazi_replica_state"]
    if time.monotonic() < state["down_until"]:
        return db_session()
    session = cast(Session, replica())  # this app context's, made on first use
    if session.in_transaction():
        return session  # checked when this request first read it
    why = None
    try:
        version = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if version != _head():
            why = f"its schema is at {version}, this code's at {_head()}"
    except DBAPIError as exc:
        why = str(exc.orig or exc).strip().splitlines()[0]
    if why is None:
        return session
    session.rollback()
    state["down_until"] = time.monotonic() + REPLICA_RETRY_SECONDS
    log.warning("replica not used, reading the primary for %.0f s: %s", REPLICA_RETRY_SECONDS, why)
    return db_session()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the schema at ``url`` to the newest Alembic revision."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def ping() -> bool:
    """Whether the database answers and its schema is at the newest migration."""
    try:
        with current_app.extensions["ngazi_engine"].connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:
        return False
    return bool(current == _head())


@cache
def _head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    session = scoped_session(sessionmaker(bind=engine, expire_on_commit=False))
    app.extensions["ngazi_engine"] = engine
    app.extensions["ngazi_db"] = session

    replica_url = (app.config.get("DATABASE_REPLICA_URL") or "").strip()
    replica = None
    if replica_url:
        replica_engine = make_replica_engine(replica_url)
        replica = scoped_session(sessionmaker(bind=replica_engine, expire_on_commit=False))
        app.extensions["ngazi_read_db"] = replica
        app.extensions["ngazi_replica_state"] = {"down_until": 0.0}

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        session.remove()
        if replica is not None:
            replica.remove()

    @app.cli.command("migrate")
    def migrate_command() -> None:
        """Apply Alembic migrations up to head."""
        upgrade(app.config["DATABASE_URL"])
        click.echo("database at head")

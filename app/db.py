"""The database: one engine per app, one session per request or job.

``db_session()`` gives the scoped session; it is removed at the end of every
app context, so a request or a job never sees another's objects.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, cast

import click
from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from app.config import ROOT


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


def db_session() -> Session:
    """This request's (or job's) session; removed when the app context ends.

    It is the scoped-session proxy: the ``Session`` is only created when first
    used, so a USSD hop that never touches the database pays nothing for it.
    """
    return cast(Session, current_app.extensions["ngazi_db"])


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

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        session.remove()

    @app.cli.command("migrate")
    def migrate_command() -> None:
        """Apply Alembic migrations up to head."""
        upgrade(app.config["DATABASE_URL"])
        click.echo("database at head")

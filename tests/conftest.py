"""Fixtures: the app against real services when ``DATABASE_URL`` / ``REDIS_URL``
are set (CI sets both), else the embedded default (SQLite in a temp folder,
fakeredis, inline jobs).

The database is migrated with Alembic and loaded with the demo data once per
run; each test starts with no subscribers, sessions or messages and an empty
Redis database. Tests flush the Redis database at ``REDIS_URL``: point it at one
that holds nothing else.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase
from sqlalchemy import delete, update

from app import create_app
from app.db import db_session, upgrade
from domain import cadres, content, demo
from menus.session import SINCE_KEY
from models import (
    AreaStatistic,
    AuditEvent,
    Cadre,
    Campaign,
    ConsoleUser,
    ContactRequest,
    Household,
    HouseholdSurvey,
    InboundSms,
    Job,
    JobApplication,
    OutboundSms,
    PriceAlert,
    ProduceOffer,
    Subscriber,
    Subscription,
    SurveyDraft,
    WaitingReport,
)

FIXTURES = Path(__file__).parent / "fixtures"
SERVICE_CODE = "*384*1234#"

# Property tests (tests/test_properties_*.py): a modest number of examples in
# `make test`, many more with HYPOTHESIS_PROFILE=thorough; never derandomized
# (a failure prints its seed). Failing examples are kept under .pytest_cache/
# (ignored by git) and tried first on the next run.
_EXAMPLES = DirectoryBasedExampleDatabase(
    Path(__file__).parent.parent / ".pytest_cache" / "hypothesis"
)
settings.register_profile("ngazi", max_examples=100, database=_EXAMPLES)
settings.register_profile("thorough", max_examples=2000, database=_EXAMPLES)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ngazi"))


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"ngazi: database={'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'embedded SQLite'}"
        f", redis={'REDIS_URL' if os.environ.get('REDIS_URL') else 'embedded fakeredis'}"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Worker processes need a server database and a real Redis: the embedded run
    # (SQLite, fakeredis) cannot host them, so it leaves those tests out, saying
    # so in the summary ("N deselected"), rather than skipping them.
    real = os.environ.get("DATABASE_URL", "").startswith("postgresql") and os.environ.get(
        "REDIS_URL"
    )
    if real:
        return
    left_out = [item for item in items if item.get_closest_marker("real_services")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker("real_services")]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # In CI a skipped test is a failure: it would count as passing without running.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") and skipped:
        print(f"\nCI: {skipped} test(s) skipped; failing the run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'ngazi-test.db'}"
    )
    if url.startswith("postgresql"):
        _drop_all(url)
    upgrade(url)
    return url


def _drop_all(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


WEBHOOK_TOKEN = "test-webhook-token"
WEBHOOK_PATHS = frozenset({"/ussd", "/sms/inbound", "/sms/delivery", "/sms/optout"})


class GatewayClient(FlaskClient):
    """The test client, calling the gateway's callbacks as the gateway is set up
    to: with ``?token=`` (unless the test gives a ``token`` of its own).
    ``tests/test_webhook_auth.py`` calls them without it."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], str):
            path, _, query = args[0].partition("?")
            if path in WEBHOOK_PATHS and "token=" not in query:
                given = kwargs.get("query_string")
                if isinstance(given, dict):
                    kwargs["query_string"] = {"token": WEBHOOK_TOKEN, **given}
                elif given is None and not query:
                    kwargs["query_string"] = {"token": WEBHOOK_TOKEN}
                elif given is None:
                    args = (f"{args[0]}&token={WEBHOOK_TOKEN}", *args[1:])
        return super().open(*args, **kwargs)


# Every app a test builds (some build their own, with a broken database say)
# gets this client from ``app.test_client()``.
Flask.test_client_class = GatewayClient


@pytest.fixture(scope="session")
def base_config(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_DIR": str(tmp_path_factory.mktemp("instance")),
        "AT_USERNAME": "",
        "AT_API_KEY": "",
        "AT_SMS_BASE_URL": "",
        "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "SIMULATOR": True,
        # Tests dial far faster than people: the limits have their own tests.
        "USSD_MSISDN_LIMIT": "0",
        "SMS_MSISDN_LIMIT": "0",
    }


@pytest.fixture(scope="session")
def _session_app(base_config: dict[str, Any]) -> Flask:
    app = create_app(base_config)
    with app.app_context():
        demo.load_areas(db_session())
        demo.load_content(db_session())
        demo.load_surveys(db_session())
        demo.load_staff(db_session())  # argon2-hashes the demo PINs: once per run
        demo.load_templates(db_session())
    return app


@pytest.fixture
def app(_session_app: Flask) -> Iterator[Flask]:
    """The app with demo content, no subscribers or messages, and empty Redis."""
    with _session_app.app_context():
        db = db_session()
        for model in (
            AuditEvent,
            ConsoleUser,  # and their areas (console_user_area rows cascade)
            ContactRequest,
            PriceAlert,
            JobApplication,
            Job,
            ProduceOffer,
            WaitingReport,
            OutboundSms,
            Campaign,
            InboundSms,
            SurveyDraft,
            AreaStatistic,
            HouseholdSurvey,
            Household,
            Subscription,
            Subscriber,
        ):
            db.execute(delete(model))
        db.execute(update(Cadre).values(pin_failures=0, pin_locked_until=None, active=True))
        db.commit()
    cadres.clear_cache()
    redis = _session_app.extensions["ngazi_redis"]
    redis.flushdb()
    # This Redis has held our data for an hour: a first callback that carries
    # inputs is a shortcut dial, not a session whose state was lost.
    redis.set(SINCE_KEY, time.time() - 3600)
    content.clear_cache()
    yield _session_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def ussd_form(
    session_id: str, text: str, msisdn: str = "+254700000101", **extra: str
) -> dict[str, str]:
    """The form of one USSD callback, as the gateway posts it."""
    return {
        "sessionId": session_id,
        "serviceCode": SERVICE_CODE,
        "phoneNumber": msisdn,
        "networkCode": "63902",
        "text": text,
        **extra,
    }


@pytest.fixture
def dial(client: FlaskClient):  # type: ignore[no-untyped-def]
    """``dial(session_id, text, msisdn=…)`` posts one USSD callback; returns the response."""

    def _dial(session_id: str, text: str, msisdn: str = "+254700000101", **extra: str) -> Any:
        return client.post("/ussd", data=ussd_form(session_id, text, msisdn, **extra))

    return _dial


SEND_BY_SMS = {"en": "1 Send me this by SMS", "sw": "1 Nitumie kwa SMS"}


@pytest.fixture
def to_sms_option(dial):  # type: ignore[no-untyped-def]
    """``to_sms_option(session_id, inputs, msisdn=…)`` walks ``inputs`` (which end on
    an article), then presses 98 until "1 Send me this by SMS" shows; returns the
    inputs taken, so ``inputs + ["1"]`` sends the article."""

    def _walk(session_id: str, inputs: list[str], msisdn: str = "+254700000101") -> list[str]:
        taken = list(inputs)
        body = ""
        for i in range(len(taken) + 1):
            body = dial(session_id, "*".join(taken[:i]), msisdn=msisdn).get_data(as_text=True)
        while not any(label in body for label in SEND_BY_SMS.values()):
            assert "\n98 " in body, body
            taken.append("98")
            body = dial(session_id, "*".join(taken), msisdn=msisdn).get_data(as_text=True)
        return taken

    return _walk

"""``domain.audit``: events stored and logged in words; the audit page's query."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from freezegun import freeze_time
from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.db import db_session
from domain import audit
from domain.console_users import find_user
from models import AuditEvent, ConsoleRole, ConsoleUser
from tests.test_console_auth import make_user


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    with app.app_context():
        db_session().execute(delete(AuditEvent))
        db_session().commit()
        yield db_session()


def _user(app: Flask, db: Session, username: str) -> ConsoleUser:
    make_user(app, username, role=ConsoleRole.ADMIN)
    found = find_user(db, username)
    assert found is not None
    return found


def test_an_event_is_stored_and_logged_in_words(
    app: Flask, db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    user = _user(app, db, "otieno")
    with caplog.at_level(logging.INFO, logger="ngazi.audit"):
        made = audit.record(
            db,
            user=user,
            action="household.view",
            subject_type="household",
            subject_id=12,
            detail={"surveys": 2, "msisdn": "full"},
            address="2001:db8::1",
        )
    db.expire_all()
    stored = db.get(AuditEvent, made.id)
    assert stored is not None
    assert (stored.user_id, stored.username, stored.action) == (user.id, "otieno", "household.view")
    assert (stored.subject_type, stored.subject_id, stored.address) == (
        "household",
        "12",
        "2001:db8::1",
    )
    assert stored.detail == {"surveys": 2, "msisdn": "full"}
    assert stored.created_at.tzinfo is not None
    assert [r.getMessage() for r in caplog.records if r.name == "ngazi.audit"] == [
        "otieno viewed household 12 (2 surveys, number full)"
    ]


def test_unknown_actions_and_missing_details_read_plainly(app: Flask, db: Session) -> None:
    assert audit.describe("thing.done", "widget", "7", {}) == "thing.done widget 7"
    assert audit.describe("household.view", "household", "7", {}) == "household.view household 7"
    user = _user(app, db, "otieno")
    long = audit.record(
        db, user=user, action="x" * 60, subject_type="y" * 30, subject_id="z" * 50, address=None
    )
    assert (len(long.action), len(long.subject_type), len(long.subject_id)) == (40, 20, 40)
    assert (long.address, long.detail) == ("", {})


def test_events_are_filtered_newest_first_a_page_at_a_time(
    app: Flask, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "PAGE_SIZE", 2)
    otieno, grace = _user(app, db, "otieno"), _user(app, db, "grace")
    start = datetime(2026, 3, 1, 8, tzinfo=UTC)
    for day, (user, action, subject) in enumerate(
        [
            (otieno, "household.view", "1"),
            (grace, "household.view", "1"),
            (otieno, "household.search", ""),
            (otieno, "household.view", "2"),
        ]
    ):
        with freeze_time(start + timedelta(days=day)):
            audit.record(
                db,
                user=user,
                action=action,
                subject_type="household" if subject else "search",
                subject_id=subject,
            )

    def shown(page: int = 1, **filters: object) -> tuple[list[tuple[str, str]], bool]:
        found = audit.events(db, audit.Filters(**filters), page)  # type: ignore[arg-type]
        return [(e.username, e.subject_id) for e in found.events], found.has_next

    assert shown() == ([("otieno", "2"), ("otieno", "")], True)
    assert shown(2) == ([("grace", "1"), ("otieno", "1")], False)
    assert shown(10**6) == ([], False)  # clamped to MAX_PAGE: empty, no next
    assert shown(username=" Grace ") == ([("grace", "1")], False)
    assert shown(subject_type="household", subject_id="1") == (
        [("grace", "1"), ("otieno", "1")],
        False,
    )
    assert shown(action="household.search") == ([("otieno", "")], False)
    between = shown(since=start + timedelta(days=1), until=start + timedelta(days=2))
    assert between == ([("grace", "1")], False)
    assert [e.subject_id for e in audit.export(db, audit.Filters(username="otieno"))] == [
        "2",
        "",
        "1",
    ]

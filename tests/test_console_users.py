"""``domain.console_users``: password rules, accounts, sign-in, what a supervisor sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import db_session
from domain import console_users as cu
from domain.campaigns import areas_under
from models import Area, AreaLevel, ConsoleRole, ConsoleUser
from tests.test_console_auth import PASSWORD, make_user

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("password", "username", "problem"),
    [
        ("short-one", "", "a password is at least 12 characters"),
        ("x" * 129, "", "a password is at most 128 characters"),
        ("aaaaaaaaaaaaaaaa", "", "a password is not one character repeated"),
        ("achieng.odhiambo", "Achieng.Odhiambo", "a password is not the username"),
        ("1234567890", "", "a password is at least 12 characters"),
        ("correct horse battery staple", "achieng", None),
        ("x" * 11 + "y", "", None),
        ("ñandú-ñandú-ñandú", "", None),
    ],
)
def test_password_rules(password: str, username: str, problem: str | None) -> None:
    assert cu.password_problem(password, username) == problem


def test_common_passwords_are_refused_whatever_their_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert len(cu.COMMON_PASSWORDS) == 20
    monkeypatch.setattr(cu, "MIN_PASSWORD", 6)
    assert cu.password_problem("Password1") == (
        "that password is one of the most common: choose another"
    )
    assert cu.password_problem("password12") is None


@pytest.mark.parametrize(
    ("typed", "stored"),
    [(" Achieng ", "achieng"), ("a.b_c-9", "a.b_c-9"), ("x" * 40, "x" * 40)],
)
def test_usernames_are_stored_lower_case(typed: str, stored: str) -> None:
    assert cu.normalise_username(typed) == stored


@pytest.mark.parametrize("typed", ["ab", "x" * 41, "achieng odhiambo", "wafula@ngazi", "ñandú", ""])
def test_bad_usernames_are_refused(typed: str) -> None:
    with pytest.raises(cu.ConsoleUserError, match="a username is 3 to 40 characters"):
        cu.normalise_username(typed)


def test_create_user_hashes_with_argon2id_and_the_projects_parameters(app: Flask) -> None:
    uid = make_user(app, name="  Achieng   Odhiambo ")
    with app.app_context():
        user = db_session().get(ConsoleUser, uid)
        assert user is not None
        assert (user.username, user.name, user.role, user.active) == (
            "achieng",
            "Achieng Odhiambo",
            ConsoleRole.ADMIN,
            True,
        )
        assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert PASSWORD not in user.password_hash
        assert PasswordHasher().verify(user.password_hash, PASSWORD)
        assert user.created_at is not None and user.password_changed_at is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"username": "Achieng"}, "user 'achieng' exists"),
        ({"name": "   "}, "a name is 1 to 80 characters"),
        ({"role": ConsoleRole.SUPERVISOR}, "a supervisor needs at least one area"),
        ({"password": "Achieng-Second"}, "a password is not the username"),
        ({"password": "too-short"}, "a password is at least 12 characters"),
    ],
)
def test_create_user_refuses(app: Flask, changes: dict[str, object], message: str) -> None:
    make_user(app)
    with app.app_context():
        db = db_session()
        fields: dict[str, object] = {
            "username": "achieng-second",
            "name": "Another",
            "password": "a-fine-long-password",
            "role": ConsoleRole.OPERATOR,
        }
        with pytest.raises(cu.ConsoleUserError) as caught:
            cu.create_user(db, **(fields | changes))  # type: ignore[arg-type]
        assert str(caught.value) == message
        db.rollback()


def test_only_supervisors_take_areas(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        kisumu = _area(db, "Kisumu")
        with pytest.raises(cu.ConsoleUserError, match="an operator sees every area"):
            cu.create_user(
                db,
                username="otieno",
                name="Otieno",
                password="a-fine-long-password",
                role=ConsoleRole.OPERATOR,
                areas=[kisumu],
            )


def test_visible_areas(app: Flask) -> None:
    admin = make_user(app, "admin")
    operator = make_user(app, "operator", role=ConsoleRole.OPERATOR)
    county = make_user(app, "county", role=ConsoleRole.SUPERVISOR, areas=["Kisumu"])
    village = make_user(app, "village", role=ConsoleRole.SUPERVISOR, areas=["Chwele"])
    with app.app_context():
        db = db_session()
        kisumu = _area(db, "Kisumu")
        chwele = _area(db, "Chwele")
        below_kisumu = set(db.scalars(select(Area.id).where(Area.parent_id == kisumu.id)))
        assert len(below_kisumu) >= 2

        def seen(uid: int) -> list[int] | None:
            user = db.get(ConsoleUser, uid)
            assert user is not None
            return cu.visible_areas(db, user)

        assert seen(admin) is None and seen(operator) is None
        assert seen(county) == sorted({kisumu.id} | below_kisumu)
        assert seen(village) == [chwele.id]
        assert chwele.level is AreaLevel.VILLAGE
        # A supervisor whose areas were all removed sees nothing, not everything.
        user = db.get(ConsoleUser, village)
        assert user is not None
        user.areas = []
        assert cu.visible_areas(db, user) == []


def test_deleting_an_area_user_link_keeps_the_area(app: Flask) -> None:
    uid = make_user(app, "county", role=ConsoleRole.SUPERVISOR, areas=["Kisumu"])
    with app.app_context():
        db = db_session()
        user = db.get(ConsoleUser, uid)
        db.delete(user)
        db.commit()
        assert _area(db, "Kisumu").name == "Kisumu"
        assert areas_under(db, [_area(db, "Kisumu").id])


def test_authenticate_answers(app: Flask) -> None:
    make_user(app)
    make_user(app, "retired", active=False)
    with app.app_context():
        db = db_session()
        user = cu.authenticate(db, "ACHIENG", PASSWORD, NOW)
        assert isinstance(user, ConsoleUser) and user.last_login_at == NOW
        assert cu.authenticate(db, "achieng", "wrong-wrong-wrong", NOW) is cu.Refusal.WRONG
        assert cu.authenticate(db, "nobody", PASSWORD, NOW) is cu.Refusal.UNKNOWN
        assert cu.authenticate(db, "x" * 500, PASSWORD, NOW) is cu.Refusal.UNKNOWN
        assert cu.authenticate(db, "retired", PASSWORD, NOW) is cu.Refusal.INACTIVE
        assert cu.authenticate(db, "achieng", "p" * 10_000, NOW) is cu.Refusal.WRONG
        db.rollback()


def test_the_fifth_failure_answers_locked(app: Flask) -> None:
    uid = make_user(app)
    with app.app_context():
        db = db_session()
        answers = [cu.authenticate(db, "achieng", "wrong-wrong-wrong", NOW) for _ in range(5)]
        assert answers == [cu.Refusal.WRONG] * 4 + [cu.Refusal.LOCKED]
        assert cu.authenticate(db, "achieng", PASSWORD, NOW) is cu.Refusal.LOCKED
        user = db.get(ConsoleUser, uid)
        assert user is not None and user.locked_until == NOW + timedelta(minutes=15)
        cu.unlock(db, "achieng")
        assert isinstance(cu.authenticate(db, "achieng", PASSWORD, NOW), ConsoleUser)
        db.rollback()


def test_failures_from_two_sessions_with_stale_rows_all_count(app: Flask) -> None:
    """Each session read the row at 3 failures; both failures still count."""
    uid = make_user(app)
    with app.app_context():
        engine = app.extensions["ngazi_engine"]
        with Session(engine) as db:
            db.get(ConsoleUser, uid).failed_logins = 3  # type: ignore[union-attr]
            db.commit()
        with Session(engine) as first, Session(engine) as second:
            a = first.get(ConsoleUser, uid)
            b = second.get(ConsoleUser, uid)
            assert a is not None and b is not None and a.failed_logins == b.failed_logins == 3
            first.rollback(), second.rollback()  # release SQLite's read snapshot
            assert cu.authenticate(first, "achieng", "wrong-wrong-1", NOW) is cu.Refusal.WRONG
            first.commit()
            assert cu.authenticate(second, "achieng", "wrong-wrong-2", NOW) is cu.Refusal.LOCKED
            second.commit()
        with Session(engine) as db:
            user = db.get(ConsoleUser, uid)
            assert user is not None
            assert (user.failed_logins, user.locked_until) == (5, NOW + timedelta(minutes=15))


def test_credential_stamp_changes_with_the_password(app: Flask) -> None:
    uid = make_user(app)
    with app.app_context():
        db = db_session()
        user = db.get(ConsoleUser, uid)
        assert user is not None
        before = cu.credential_stamp(user)
        db.commit()
        db.expire(user)
        assert cu.credential_stamp(user) == before  # the same after a round trip
        cu.set_password(user, "another-long-password")
        assert cu.credential_stamp(user) != before


def _area(db: Session, name: str) -> Area:
    return db.scalars(select(Area).where(Area.name == name)).one()

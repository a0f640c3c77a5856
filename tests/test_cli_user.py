"""``flask user …`` and the demo console admin of ``flask demo load``."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import select

from app.db import db_session
from domain import demo
from models import ConsoleRole, ConsoleUser
from tests.test_console_auth import PASSWORD, login, make_user

GOOD = "maize-and-beans-2026"


def _cli(app: Flask, *args: str, password: str = "", stdin: str | None = None) -> tuple[int, str]:
    """Run ``flask ARGS`` with NGAZI_USER_PASSWORD=``password`` (empty: asked for)."""
    result = app.test_cli_runner().invoke(
        args=list(args), env={"NGAZI_USER_PASSWORD": password}, input=stdin
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def _user(app: Flask, username: str) -> ConsoleUser | None:
    with app.app_context():
        db = db_session()
        user = db.scalars(select(ConsoleUser).where(ConsoleUser.username == username)).first()
        if user is not None:
            _ = [a.name for a in user.areas]
            db.expunge_all()
        return user


def test_add_an_admin_with_the_password_from_the_environment(app: Flask) -> None:
    args = ["user", "add", "Achieng", "--name", "Achieng Odhiambo", "--role", "admin"]
    code, out = _cli(app, *args, password=GOOD)

    assert code == 0, out
    user = _user(app, "achieng")
    assert user is not None
    assert out == f"user {user.id}: achieng Achieng Odhiambo, admin\n"
    assert (user.name, user.role, user.active, user.areas) == (
        "Achieng Odhiambo",
        ConsoleRole.ADMIN,
        True,
        [],
    )
    assert PasswordHasher().verify(user.password_hash, GOOD)


def test_add_asks_for_the_password_twice_hidden(app: Flask) -> None:
    code, out = _cli(
        app,
        "user",
        "add",
        "otieno",
        "--name",
        "Otieno",
        "--role",
        "operator",
        stdin=f"{GOOD}\n{GOOD}\n",
    )

    assert code == 0, out
    assert "Password (at least 12 characters): \nRepeat for confirmation: \n" in out
    assert GOOD not in out  # hidden: not echoed
    user = _user(app, "otieno")
    assert user is not None and PasswordHasher().verify(user.password_hash, GOOD)


def test_add_a_supervisor_with_areas(app: Flask) -> None:
    code, out = _cli(
        app,
        "user",
        "add",
        "wafula",
        "--name",
        "Wafula Barasa",
        "--role",
        "supervisor",
        "--area",
        "Kakamega",
        "--area",
        "Bungoma/Chwele",
        password=GOOD,
    )

    assert code == 0, out
    assert out.endswith("wafula Wafula Barasa, supervisor (Western/Kakamega, Bungoma/Chwele)\n")
    user = _user(app, "wafula")
    assert user is not None and [a.name for a in user.areas] == ["Chwele", "Kakamega"]


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["ab"], GOOD, "a username is 3 to 40 characters: a-z, 0-9, '.', '_' or '-'"),
        (["bad name"], GOOD, "a username is 3 to 40 characters"),
        (["newuser", "--role", "supervisor"], GOOD, "a supervisor needs at least one area"),
        (["newuser", "--area", "Kisumu"], GOOD, "an admin sees every area"),
        (["newuser", "--area", "Atlantis"], GOOD, "no area 'Atlantis'"),
        (["newuser"], "short-pass", "a password is at least 12 characters"),
        (["newuser"], "zzzzzzzzzzzzzz", "a password is not one character repeated"),
        (["newuser"], "NEWUSER", "a password is at least 12 characters"),
        (["newuser12345"], "NewUser12345", "a password is not the username"),
        (["achieng"], GOOD, "user 'achieng' exists"),
    ],
)
def test_add_refuses_with_a_reason(
    app: Flask, args: list[str], password: str, message: str
) -> None:
    make_user(app)
    role = [] if "--role" in args else ["--role", "admin"]

    code, out = _cli(app, "user", "add", *args, "--name", "Someone", *role, password=password)

    assert code in (1, 2), out
    assert message in out
    with app.app_context():
        names = set(db_session().scalars(select(ConsoleUser.username)))
    assert names == {"achieng"}


def test_add_without_a_role_is_a_usage_error(app: Flask) -> None:
    code, out = _cli(app, "user", "add", "newuser", "--name", "X", password=GOOD)

    assert code == 2
    assert "Missing option '--role'" in out


def test_add_asks_again_when_the_two_passwords_differ(app: Flask) -> None:
    code, out = _cli(
        app,
        "user",
        "add",
        "newuser",
        "--name",
        "X",
        "--role",
        "admin",
        stdin=f"{GOOD}\nsomething-else-entirely\n",
    )

    assert code == 1  # the input ran out: aborted
    assert "Error: The two entered values do not match." in out
    assert _user(app, "newuser") is None


def test_list_shows_status_and_areas(app: Flask) -> None:
    make_user(app)
    make_user(app, "wafula", name="Wafula", role=ConsoleRole.SUPERVISOR, areas=["Chwele"])
    make_user(app, "retired", name="Retired", active=False)

    code, out = _cli(app, "user", "list")

    assert code == 0
    lines = [line.split("\t") for line in out.splitlines()]
    assert lines[0] == ["id", "username", "name", "role", "status", "last sign-in", "areas"]
    rows = {row[1]: row[2:] for row in lines[1:]}
    assert rows == {
        "achieng": ["Achieng Odhiambo", "admin", "active", "never", ""],
        "retired": ["Retired", "admin", "deactivated", "never", ""],
        "wafula": ["Wafula", "supervisor", "active", "never", "Bungoma/Chwele"],
    }


def test_deactivate_and_activate(app: Flask) -> None:
    make_user(app)

    assert _cli(app, "user", "deactivate", "Achieng") == (0, "user achieng: deactivated\n")
    user = _user(app, "achieng")
    assert user is not None and not user.active
    assert login(app.test_client(), "achieng", PASSWORD).status_code == 200  # refused

    assert _cli(app, "user", "activate", "achieng") == (0, "user achieng: activated\n")
    assert login(app.test_client(), "achieng", PASSWORD).location == "/console/"


def test_unlock_clears_the_lock(app: Flask) -> None:
    make_user(app)
    client = app.test_client()
    for _ in range(5):
        login(client, "achieng", "wrong-wrong-wrong")
    code, out = _cli(app, "user", "list")
    assert "locked until" in out

    assert _cli(app, "user", "unlock", "achieng") == (0, "user achieng: unlocked\n")

    user = _user(app, "achieng")
    assert user is not None and (user.failed_logins, user.locked_until) == (0, None)
    assert login(client, "achieng", PASSWORD).location == "/console/"


def test_password_sets_a_new_one(app: Flask) -> None:
    make_user(app)

    assert _cli(app, "user", "password", "achieng", password=GOOD) == (
        0,
        "user achieng: password changed\n",
    )
    assert _cli(app, "user", "password", "achieng", password="short")[0] == 1

    client = app.test_client()
    assert login(client, "achieng", PASSWORD).status_code == 200  # the old one: refused
    assert login(client, "achieng", GOOD).location == "/console/"


@pytest.mark.parametrize("command", ["deactivate", "activate", "unlock", "password"])
def test_unknown_users_are_reported(app: Flask, command: str) -> None:
    code, out = _cli(app, "user", command, "nobody", password=GOOD)

    assert (code, out) == (1, "Error: no user 'nobody'\n")


def test_demo_load_creates_the_demo_admin_once(app: Flask) -> None:
    from sqlalchemy import delete, update

    from models import Article, Organisation

    with app.app_context():
        assert demo.load_console_users(db_session()) == 2  # the admin and an NGO's editor
        user = db_session().scalars(select(ConsoleUser).where(ConsoleUser.role == "admin")).one()
        first_hash = user.password_hash
        assert demo.load_console_users(db_session()) == 2
        users = db_session().scalars(select(ConsoleUser).order_by(ConsoleUser.username)).all()
        assert [(u.username, u.role) for u in users] == [
            ("admin", ConsoleRole.ADMIN),
            ("editor", ConsoleRole.EDITOR),
        ]
        assert users[0].password_hash == first_hash
        assert users[1].organisation is not None
        assert users[1].organisation.name == "Maji Safi Trust"

    assert login(app.test_client(), "admin", "ngazi-demo-admin").location == "/console/"
    with app.app_context():  # the demo content as the other tests know it: the service's own
        db_session().execute(update(Article).values(organisation_id=None))
        db_session().execute(delete(ConsoleUser))
        db_session().execute(delete(Organisation))
        db_session().commit()

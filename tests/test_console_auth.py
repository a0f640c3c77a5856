"""``/console``: sign-in, sessions, CSRF, lockout, idle expiry, rate limits, and the
gateway's callbacks left outside all of it."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import select
from werkzeug.test import TestResponse

from app import create_app
from app.console.auth import INACTIVE, WRONG, safe_next
from app.db import db_session
from domain import console_users
from models import Area, ConsoleRole, ConsoleUser

PASSWORD = "tea-and-mandazi-42"
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def make_user(
    app: Flask,
    username: str = "achieng",
    *,
    name: str = "Achieng Odhiambo",
    role: ConsoleRole = ConsoleRole.ADMIN,
    areas: Sequence[str] = (),
    password: str = PASSWORD,
    active: bool = True,
) -> int:
    """Create a console user (``areas`` by name); return their id."""
    with app.app_context():
        db = db_session()
        found = [db.scalars(select(Area).where(Area.name == a)).one() for a in areas]
        user = console_users.create_user(
            db, username=username, name=name, password=password, role=role, areas=found
        )
        user.active = active
        db.commit()
        return user.id


def user_row(app: Flask, user_id: int) -> ConsoleUser:
    with app.app_context():
        user = db_session().get(ConsoleUser, user_id)
        assert user is not None
        db_session().expunge(user)
        return user


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def login(
    client: FlaskClient, username: str, password: str, next_url: str | None = None
) -> TestResponse:
    """Open the sign-in page (for its CSRF token) and post the form."""
    query = {"next": next_url} if next_url is not None else {}
    page = client.get("/console/login", query_string=query)
    assert page.status_code == 200
    form = {"csrf_token": csrf_token(page.get_data(as_text=True))}
    form |= {"username": username, "password": password}
    return client.post("/console/login", data=form, query_string=query)


def error_text(resp: TestResponse) -> str | None:
    found = re.search(r'data-testid="login-error">([^<]*)<', resp.get_data(as_text=True))
    return found.group(1) if found else None


def signed_in(client: FlaskClient) -> bool:
    resp = client.get("/console/")
    if resp.status_code == 302:
        assert urlsplit(resp.location).path == "/console/login"
        return False
    assert resp.status_code == 200
    return True


# -- signing in -----------------------------------------------------------------------


def test_sign_in_lands_on_the_console_with_the_name_and_role(
    app: Flask, client: FlaskClient
) -> None:
    uid = make_user(app)

    resp = login(client, "achieng", PASSWORD)

    assert (resp.status_code, resp.location) == (302, "/console/")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # CONSOLE_SECURE_COOKIES is off by default
    assert "Expires" not in cookie  # ends with the browser session (and idle expiry)
    home = client.get("/console/")
    html = home.get_data(as_text=True)
    assert home.status_code == 200
    assert "Welcome, Achieng Odhiambo" in html
    assert 'data-testid="role">admin<' in html
    assert "Analytics</a>: the MPI, its indicators" in html and "Coming next" not in html
    assert "You see every area." in html
    user = user_row(app, uid)
    assert user.failed_logins == 0 and user.last_login_at is not None


def test_usernames_are_not_case_sensitive(app: Flask, client: FlaskClient) -> None:
    make_user(app)

    assert login(client, "  Achieng ", PASSWORD).location == "/console/"


def test_a_supervisor_sees_their_areas_named(app: Flask, client: FlaskClient) -> None:
    make_user(app, "wafula", role=ConsoleRole.SUPERVISOR, areas=["Chwele", "Kakamega"])
    login(client, "wafula", PASSWORD)

    html = client.get("/console/").get_data(as_text=True)

    assert 'data-testid="role">supervisor<' in html
    assert "everything below them: Bungoma/Chwele, Western/Kakamega." in html


def test_secure_cookie_when_configured(base_config: dict[str, Any], app: Flask) -> None:
    make_user(app)
    secure = create_app({**base_config, "CONSOLE_SECURE_COOKIES": True})

    resp = login(secure.test_client(), "achieng", PASSWORD)

    assert resp.status_code == 302
    assert "; Secure" in resp.headers["Set-Cookie"]


def test_wrong_password_is_refused_and_logged_without_the_password(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    uid = make_user(app)
    caplog.set_level(logging.WARNING, logger="ngazi.console")

    resp = login(client, "achieng", "not-the-password-at-all")

    assert resp.status_code == 200
    assert error_text(resp) == WRONG
    assert 'value="not-the-password-at-all"' not in resp.get_data(as_text=True)
    assert not signed_in(client)
    assert user_row(app, uid).failed_logins == 1
    assert [r.getMessage() for r in caplog.records] == [
        "console: sign-in refused (wrong) for achieng from 127.0.0.1"
    ]
    assert "not-the-password-at-all" not in caplog.text


def test_a_password_typed_as_the_username_is_not_logged(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ngazi.console")

    login(client, "My Secret Pass!", "x")

    assert "(not a username)" in caplog.text
    assert "secret" not in caplog.text.lower()


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(
    app: Flask, client: FlaskClient
) -> None:
    make_user(app)

    wrong = login(client, "achieng", "not-the-password-at-all")
    unknown = login(client, "nobody", "not-the-password-at-all")

    assert (unknown.status_code, error_text(unknown)) == (wrong.status_code, error_text(wrong))
    assert error_text(unknown) == WRONG

    def without_token(resp: TestResponse) -> str:
        html = resp.get_data(as_text=True)
        return re.sub(r'value="[^"]*"', "", html)

    assert without_token(unknown) == without_token(wrong).replace("achieng", "nobody")


def test_five_wrong_passwords_lock_the_account_for_15_minutes(
    app: Flask, client: FlaskClient
) -> None:
    uid = make_user(app)
    with freeze_time(T0) as clock:
        for _ in range(console_users.MAX_FAILURES):
            assert error_text(login(client, "achieng", "wrong-wrong-wrong")) == WRONG
        user = user_row(app, uid)
        assert (user.failed_logins, user.locked_until) == (5, T0 + timedelta(minutes=15))

        # Locked: the right password is refused, with the same answer.
        assert error_text(login(client, "achieng", PASSWORD)) == WRONG
        clock.move_to(T0 + timedelta(minutes=14, seconds=59))
        assert error_text(login(client, "achieng", PASSWORD)) == WRONG
        assert not signed_in(client)
        assert user_row(app, uid).failed_logins == 5  # attempts while locked are not counted

        clock.move_to(T0 + timedelta(minutes=15, seconds=1))
        assert login(client, "achieng", PASSWORD).location == "/console/"
        assert signed_in(client)
        user = user_row(app, uid)
        assert (user.failed_logins, user.locked_until) == (0, None)


def test_after_a_lock_the_count_starts_again(app: Flask, client: FlaskClient) -> None:
    uid = make_user(app)
    with freeze_time(T0) as clock:
        for _ in range(5):
            login(client, "achieng", "wrong-wrong-wrong")
        clock.move_to(T0 + timedelta(minutes=16))
        login(client, "achieng", "wrong-wrong-wrong")

        user = user_row(app, uid)
        assert (user.failed_logins, user.locked_until) == (1, None)


def test_a_right_password_clears_the_count(app: Flask, client: FlaskClient) -> None:
    uid = make_user(app)
    for _ in range(4):
        login(client, "achieng", "wrong-wrong-wrong")

    assert login(client, "achieng", PASSWORD).location == "/console/"
    assert user_row(app, uid).failed_logins == 0


def test_inactive_user_cannot_sign_in(app: Flask, client: FlaskClient) -> None:
    uid = make_user(app, active=False)

    right = login(client, "achieng", PASSWORD)
    wrong = login(client, "achieng", "wrong-wrong-wrong")

    assert (right.status_code, error_text(right)) == (200, INACTIVE)
    assert error_text(wrong) == WRONG  # only the right password learns it is deactivated
    assert not signed_in(client)
    assert user_row(app, uid).failed_logins == 1


def test_deactivating_a_user_ends_their_session(app: Flask, client: FlaskClient) -> None:
    make_user(app)
    login(client, "achieng", PASSWORD)
    assert signed_in(client)

    with app.app_context():
        console_users.set_active(db_session(), "achieng", False)
        db_session().commit()

    assert not signed_in(client)
    # Activated again: the old session stays ended (a new sign-in is needed).
    with app.app_context():
        console_users.set_active(db_session(), "achieng", True)
        db_session().commit()
    assert not signed_in(client)


def test_a_new_password_ends_older_sessions(app: Flask, client: FlaskClient) -> None:
    make_user(app)
    login(client, "achieng", PASSWORD)
    assert signed_in(client)

    with app.app_context():
        user = console_users.get_user(db_session(), "achieng")
        console_users.set_password(user, "a-brand-new-passphrase")
        db_session().commit()

    assert not signed_in(client)
    assert login(client, "achieng", "a-brand-new-passphrase").location == "/console/"


def test_empty_fields_are_asked_for_and_not_counted(app: Flask, client: FlaskClient) -> None:
    uid = make_user(app)

    resp = login(client, "achieng", "")

    assert resp.status_code == 200
    assert "This field is required." in resp.get_data(as_text=True)
    assert user_row(app, uid).failed_logins == 0


# -- CSRF ------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_sign_in_without_a_valid_csrf_token_is_refused(
    app: Flask, client: FlaskClient, token: str | None
) -> None:
    uid = make_user(app)
    client.get("/console/login")
    form = {"username": "achieng", "password": PASSWORD}
    if token is not None:
        form["csrf_token"] = token

    resp = client.post("/console/login", data=form)

    assert resp.status_code == 400
    assert "This form has expired" in resp.get_data(as_text=True)
    assert not signed_in(client)
    user = user_row(app, uid)
    assert (user.failed_logins, user.last_login_at) == (0, None)


def test_a_token_from_another_session_is_refused(app: Flask, client: FlaskClient) -> None:
    make_user(app)
    other = app.test_client()
    token = csrf_token(other.get("/console/login").get_data(as_text=True))
    client.get("/console/login")

    resp = client.post(
        "/console/login", data={"csrf_token": token, "username": "achieng", "password": PASSWORD}
    )

    assert resp.status_code == 400


def test_sign_out_needs_a_post_with_the_csrf_token(app: Flask, client: FlaskClient) -> None:
    make_user(app)
    login(client, "achieng", PASSWORD)
    home = client.get("/console/").get_data(as_text=True)

    assert client.get("/console/logout").status_code == 405
    assert client.post("/console/logout").status_code == 400
    assert client.post("/console/logout", data={"csrf_token": "forged"}).status_code == 400
    assert signed_in(client)

    out = client.post("/console/logout", data={"csrf_token": csrf_token(home)})

    assert (out.status_code, out.location) == (302, "/console/login")
    assert "You are signed out." in client.get("/console/login").get_data(as_text=True)
    assert not signed_in(client)


@pytest.mark.parametrize(
    ("path", "form"),
    [
        (
            "/ussd",
            {
                "sessionId": "ATUid_csrf",
                "serviceCode": "*384*1234#",
                "phoneNumber": "+254700000101",
                "text": "",
            },
        ),
        (
            "/sms/inbound",
            {"from": "+254700000101", "to": "21234", "text": "HELP", "id": "ATXid_csrf"},
        ),
    ],
)
def test_gateway_callbacks_need_no_csrf_token(
    client: FlaskClient, path: str, form: dict[str, str]
) -> None:
    resp = client.post(path, data=form)

    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_data(as_text=True)
    assert body.startswith("CON ") if path == "/ussd" else body == "OK"
    assert "Set-Cookie" not in resp.headers


# -- where a sign-in goes next ---------------------------------------------------------


def test_a_page_asked_for_before_signing_in_is_where_the_sign_in_goes(
    app: Flask, client: FlaskClient
) -> None:
    make_user(app)

    first = client.get("/console/?tab=2")

    assert first.status_code == 302
    parts = urlsplit(first.location)
    assert parts.path == "/console/login"
    assert parse_qs(parts.query) == {"next": ["/console/?tab=2"]}
    assert login(client, "achieng", PASSWORD, next_url="/console/?tab=2").location == (
        "/console/?tab=2"
    )


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com",
        "http://evil.com/console/",
        "/\\evil.com",
        "/\t/evil.com",
        "javascript:alert(1)",
        "evil.com",
        "",
    ],
)
def test_next_never_leaves_the_site(app: Flask, client: FlaskClient, target: str) -> None:
    make_user(app)

    resp = login(client, "achieng", PASSWORD, next_url=target)

    assert (resp.status_code, resp.location) == (302, "/console/")


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/console/", "/console/"),
        ("/console/campaigns?id=3", "/console/campaigns?id=3"),
        ("//evil.com/x", None),
        ("///evil.com", None),
        ("https:evil.com", None),
        ("/console/\nLocation: x", None),
        (None, None),
    ],
)
def test_safe_next(target: str | None, safe: str | None) -> None:
    assert safe_next(target) == safe


def test_signed_in_user_opening_the_sign_in_page_goes_home(app: Flask, client: FlaskClient) -> None:
    make_user(app)
    login(client, "achieng", PASSWORD)

    resp = client.get("/console/login")

    assert (resp.status_code, resp.location) == (302, "/console/")


# -- sessions expire -------------------------------------------------------------------


def test_a_session_expires_after_30_idle_minutes(app: Flask, client: FlaskClient) -> None:
    make_user(app)
    with freeze_time(T0) as clock:
        login(client, "achieng", PASSWORD)
        clock.move_to(T0 + timedelta(minutes=29))
        assert signed_in(client)  # and this request starts the idle time again
        clock.move_to(T0 + timedelta(minutes=58))
        assert signed_in(client)

        clock.move_to(T0 + timedelta(minutes=58 + 31))
        resp = client.get("/console/")

        assert (resp.status_code, urlsplit(resp.location).path) == (302, "/console/login")
        page = client.get(resp.location).get_data(as_text=True)
        assert "Your session expired. Sign in again." in page
        assert not signed_in(client)


def test_idle_minutes_come_from_the_setting(app: Flask, client: FlaskClient) -> None:
    make_user(app)
    app.config["CONSOLE_SESSION_MINUTES"] = 5
    try:
        with freeze_time(T0) as clock:
            login(client, "achieng", PASSWORD)
            clock.move_to(T0 + timedelta(minutes=6))
            assert not signed_in(client)
    finally:
        app.config["CONSOLE_SESSION_MINUTES"] = 30


def test_a_session_is_dropped_when_the_browser_changes(app: Flask, client: FlaskClient) -> None:
    make_user(app)
    login(client, "achieng", PASSWORD)

    resp = client.get("/console/", headers={"User-Agent": "another browser"})

    assert resp.status_code == 302  # Flask-Login's "strong" session protection


def test_a_copied_cookie_cannot_pass_by_naming_its_owner_in_x_forwarded_for(
    app: Flask, client: FlaskClient
) -> None:
    make_user(app)
    client.environ_base["REMOTE_ADDR"] = "127.0.0.8"
    login(client, "achieng", PASSWORD)
    assert signed_in(client)
    client.environ_base["REMOTE_ADDR"] = "127.0.0.9"  # another machine, the same cookie
    resp = client.get("/console/", headers={"X-Forwarded-For": "127.0.0.8"})
    assert resp.status_code == 302  # not a trusted proxy: its header is not believed


# -- failed sign-ins per address -------------------------------------------------------


def test_failed_sign_ins_are_limited_per_address(app: Flask, client: FlaskClient) -> None:
    make_user(app)
    for _ in range(20):
        assert login(client, "nobody", "wrong-wrong-wrong").status_code == 200

    blocked = login(client, "achieng", PASSWORD)

    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    html = blocked.get_data(as_text=True)
    assert "Too many failed sign-ins from your address. Try again in 15 minutes." in html
    assert not signed_in(client)
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert login(other, "achieng", PASSWORD).location == "/console/"


def test_successful_sign_ins_do_not_count_towards_the_limit(
    app: Flask, client: FlaskClient
) -> None:
    make_user(app)
    for _ in range(25):
        assert login(client, "achieng", PASSWORD).status_code == 302
        client.post("/console/logout", data={"csrf_token": csrf_token(_home(client))})


def _home(client: FlaskClient) -> str:
    return client.get("/console/").get_data(as_text=True)


# -- the pages themselves --------------------------------------------------------------


def test_every_console_page_but_sign_in_needs_a_user(client: FlaskClient) -> None:
    for path in ("/console/", "/console"):
        resp = client.get(path, follow_redirects=True)
        assert resp.request.path == "/console/login", path
    assert client.get("/console/static/console.css").status_code == 200


def test_pages_forbid_framing_caching_and_other_sites(app: Flask, client: FlaskClient) -> None:
    make_user(app)
    login(client, "achieng", PASSWORD)

    for path in ("/console/login", "/console/"):
        resp = client.get(path, follow_redirects=True)
        assert resp.headers["X-Frame-Options"] == "DENY", path
        assert resp.headers["Cache-Control"] == "no-store", path
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"], path
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], path


def test_pages_and_stylesheet_refer_to_no_other_host(app: Flask, client: FlaskClient) -> None:
    make_user(app)
    texts = {"/console/login": client.get("/console/login").get_data(as_text=True)}
    login(client, "achieng", PASSWORD)
    texts["/console/"] = client.get("/console/").get_data(as_text=True)
    assets = re.findall(r'<(?:link|script|img)\b[^>]*\b(?:href|src)="([^"]+)"', texts["/console/"])
    assert [a for a in assets if not a.startswith("data:")] == ["/console/static/console.css"]
    texts["css"] = client.get("/console/static/console.css").get_data(as_text=True)

    for where, text in texts.items():
        assert not re.search(r"https?://", text), where
        assert not re.search(r"""(?:src|href|url)\s*[=(]\s*["']?//""", text), where
        assert "@import" not in text, where


def test_a_nul_in_the_username_is_an_unknown_user(app: Flask, client: FlaskClient) -> None:
    """PostgreSQL text holds no NUL: such a name is refused like any unknown one,
    not a 500."""
    make_user(app)
    resp = login(client, "ach\x00ieng", PASSWORD)
    assert (resp.status_code, error_text(resp)) == (
        200,
        error_text(login(client, "nobody", PASSWORD)),
    )
    assert error_text(resp)

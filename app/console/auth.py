"""Signing in to the console: Flask-Login sessions, CSRF, idle expiry, rate limits.

* A session lives in Flask's signed cookie (``HttpOnly``, ``SameSite=Lax``,
  ``Secure`` when ``CONSOLE_SECURE_COOKIES``), for the browser's session only.
  It ends after ``CONSOLE_SESSION_MINUTES`` without a request (the time of the
  last request is kept in the signed cookie and checked here), when the user is
  deactivated, or when their password changes (the session carries
  ``credential_stamp``). Flask-Login's "strong" protection drops it when the
  client's address or browser changes.
* Failed sign-ins lock the account (``domain.console_users``) and are also
  counted per client address in Redis (``CONSOLE_LOGIN_LIMIT``, a moving window
  from the ``limits`` library): past the limit the address gets a 429 and no
  password is checked. Behind a proxy the address is the proxy's unless the
  app is wrapped to trust ``X-Forwarded-For``.
* Every failed sign-in is logged (reason, username, address), never the password.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from app.console import bp, row_id
from app.db import db_session
from app.redis_store import get_redis
from app.webhook_auth import request_address
from domain.console_users import (
    LOCK_FOR,
    MAX_FAILURES,
    MAX_PASSWORD,
    USERNAME,
    Refusal,
    authenticate,
    credential_stamp,
)
from models import ConsoleRole, ConsoleUser
from models.base import utcnow

log = logging.getLogger("ngazi.console")

login_manager = LoginManager()
csrf = CSRFProtect()

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
PUBLIC_ENDPOINTS = frozenset({"console.login", "console.static"})
#: All an editor may open (deny by default: a page added later is not theirs):
#: the home page, signing out, the content pages (``app/console/content.py``)
#: and the jobs pages (``app/console/jobs.py``, which keep them to their
#: organisation's jobs).
EDITOR_ENDPOINTS = frozenset({"console.index", "console.logout"})
EDITOR_PREFIXES = ("console.content_", "console.job_")
LAST_SEEN = "console_seen"  # session key: time.time() of the last request
POLL_HEADER = "X-Ngazi-Poll"  # sent by pages' polling scripts (campaign.js)
WRONG = (
    f"Wrong username or password. After {MAX_FAILURES} failed attempts in a row an "
    f"account is locked for {LOCK_FOR.seconds // 60} minutes."
)
INACTIVE = "This account is deactivated. Ask an administrator."
# The console's pages load nothing from another site; say so to the browser too.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SignedIn:
    """A console user as Flask-Login wants one (``models`` import no Flask)."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, user: ConsoleUser) -> None:
        self.user = user

    @property
    def is_active(self) -> bool:
        return self.user.active

    def get_id(self) -> str:
        """``"<id>:<credential stamp>"``: a new password ends older sessions."""
        return f"{self.user.id}:{credential_stamp(self.user)}"


class LoginForm(FlaskForm):  # type: ignore[misc]
    username = StringField("Username", validators=[InputRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=MAX_PASSWORD)])


def current_console_user() -> ConsoleUser:
    """The signed-in user (only inside the console, behind the guard)."""
    signed_in: SignedIn = current_user._get_current_object()
    return signed_in.user


def init_app(app: Flask) -> None:
    from limits import parse

    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # the console's guard checks its own
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = app.config["CONSOLE_SECURE_COOKIES"]
    app.extensions["ngazi_console_limit"] = parse(app.config["CONSOLE_LOGIN_LIMIT"])
    csrf.init_app(app)
    app.register_error_handler(404, _not_found)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    # Flask-Login's own identifier believes any X-Forwarded-For, so a copied
    # cookie passed "strong" protection by sending its owner's address there.
    # This one sees the client as the rest of the app does (TRUSTED_PROXIES).
    login_manager._session_identifier_generator = _session_identifier
    login_manager.login_view = "console.login"
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)


def _session_identifier() -> str:
    """What "strong" session protection compares on every request: a hash of
    the client's address (``request_address``) and its browser."""
    agent = request.headers.get("User-Agent", "")
    return hashlib.sha512(f"{request_address()}|{agent}".encode()).hexdigest()


def _load_user(user_id: str) -> SignedIn | None:
    ident, _, stamp = user_id.partition(":")
    number = row_id(ident)
    if number is None:
        return None
    user = db_session().get(ConsoleUser, number)
    if user is None or not user.active or credential_stamp(user) != stamp:
        return None
    return SignedIn(user)


def _unauthorized() -> ResponseReturnValue:
    here = request.full_path.rstrip("?") if request.method in SAFE_METHODS else None
    return redirect(url_for("console.login", next=safe_next(here)))


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    """CSRF on every unsafe request; a signed-in, recently active user on every
    page but the sign-in page."""
    if request.method not in SAFE_METHODS:
        csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return _unauthorized()
    now = time.time()
    seen = session.get(LAST_SEEN)
    if not isinstance(seen, int | float) or now - seen > _idle_seconds():
        logout_user()
        session.clear()
        flash("Your session expired. Sign in again.")
        return _unauthorized()
    if request.headers.get(POLL_HEADER) != "1":
        # A page's own background refresh is not the person at the keyboard:
        # it must not keep an idle session alive.
        session[LAST_SEEN] = now
    if current_console_user().role is ConsoleRole.EDITOR and not _editor_may_open(request.endpoint):
        return render_template(
            "console/error.html",
            title="Not allowed",
            message="An editor may use the Content and Jobs pages only.",
        ), 403
    return None


def _editor_may_open(endpoint: str | None) -> bool:
    return endpoint is not None and (
        endpoint in EDITOR_ENDPOINTS or endpoint.startswith(EDITOR_PREFIXES)
    )


@bp.after_request
def _headers(response: Any) -> Any:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    # Signed-in pages must not be kept by the browser's cache or a proxy.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _not_found(exc: Any) -> Any:
    """A page of the console's own for anything under /console that is not
    there (no such page, or an id that is not there or not the user's), with
    the console's headers; elsewhere Werkzeug's plain 404 (the gateway's
    callbacks answer their own)."""
    if not request.path.startswith(bp.url_prefix or "/console"):
        return exc
    response = current_app.make_response(
        (
            render_template(
                "console/error.html",
                title="Not found",
                message="There is no such page here, or it is not yours to see.",
            ),
            404,
        )
    )
    return _headers(response)


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> ResponseReturnValue:
    log.warning("console: CSRF check failed on %s %s: %s", request.method, request.path, exc)
    return render_template(
        "console/error.html",
        title="This form has expired",
        message="The form was too old, or did not come from this site. "
        "Go back, reload the page and try again.",
    ), 400


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """The sign-in form; a right username and password go on to ``next`` (a
    path on this site) or the console's home."""
    target = safe_next(request.args.get("next"))
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(target or url_for("console.index"))
    form = LoginForm()
    error = None
    if request.method == "POST":
        address = request_address() or "unknown"
        if _over_limit(address):
            return _too_many(address)
        if form.validate():
            result = authenticate(db_session(), form.username.data, form.password.data, utcnow())
            db_session().commit()
            if not isinstance(result, Refusal):
                return _sign_in(result, target)
            _count_failure(address)
            log.warning(
                "console: sign-in refused (%s) for %s from %s",
                result.value,
                _loggable(form.username.data),
                address,
            )
            error = INACTIVE if result is Refusal.INACTIVE else WRONG
        form.password.data = ""
    return render_template("console/login.html", form=form, error=error, next=target)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("console.login"))


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site (``/console/…``), else None:
    never another host (``//evil.com``, ``https://evil.com``, ``/\\evil.com``),
    and no control characters or spaces, which browsers drop before parsing."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or c == "\\" for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _sign_in(user: ConsoleUser, target: str | None) -> ResponseReturnValue:
    session.clear()  # nothing from before the sign-in carries over
    login_user(SignedIn(user))
    session[LAST_SEEN] = time.time()
    log.info("console: %s signed in from %s", user.username, request_address())
    return redirect(target or url_for("console.index"))


def _idle_seconds() -> int:
    return int(current_app.config["CONSOLE_SESSION_MINUTES"]) * 60


def _loggable(username: str) -> str:
    """The username as typed when it could be one; else a placeholder, since a
    password typed into the wrong field must not reach the log."""
    name = username.strip().lower()
    return name if USERNAME.fullmatch(name) else "(not a username)"


# -- failed sign-ins per client address ------------------------------------------------


def _limiter() -> Any:
    limiter = current_app.extensions.get("ngazi_console_limiter")
    if limiter is None:
        from limits.storage import RedisStorage
        from limits.strategies import MovingWindowRateLimiter

        # The app's own Redis (fakeredis in the embedded default), through its pool.
        storage = RedisStorage("redis://", connection_pool=get_redis().connection_pool)
        limiter = current_app.extensions["ngazi_console_limiter"] = MovingWindowRateLimiter(storage)
    return limiter


def _over_limit(address: str) -> bool:
    try:
        return not _limiter().test(current_app.extensions["ngazi_console_limit"], *_key(address))
    except Exception:  # Redis away: the per-account lock still holds
        log.exception("console: sign-in rate limit unavailable")
        return False


def _count_failure(address: str) -> None:
    try:
        _limiter().hit(current_app.extensions["ngazi_console_limit"], *_key(address))
    except Exception:
        log.exception("console: sign-in rate limit unavailable")


def _key(address: str) -> tuple[str, str]:
    return ("ngazi-console-login", address)


def _too_many(address: str) -> ResponseReturnValue:
    item = current_app.extensions["ngazi_console_limit"]
    try:
        reset, _ = _limiter().get_window_stats(item, *_key(address))
        wait = max(60, int(reset - time.time()))
    except Exception:
        wait = item.get_expiry()
    log.warning("console: sign-in refused (rate limit) from %s", address)
    minutes = -(-wait // 60)
    return (
        render_template(
            "console/error.html",
            title="Too many failed sign-ins",
            message=f"Too many failed sign-ins from your address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
        ),
        429,
        {"Retry-After": str(wait)},
    )

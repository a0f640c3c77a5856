"""``POST /ussd``: the Africa's Talking USSD callback."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from urllib.parse import unquote_plus

from flask import Blueprint, Flask, Response, current_app, request
from redis import RedisError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from app import abuse, metrics, webhook_auth
from app.db import db_session
from app.gateways.africastalking import BadCallback, parse_ussd
from app.redis_store import make_redis
from domain.translation import N_, gettext_for
from menus import MENUS
from menus.engine import Caller, Engine
from menus.screen import Limits
from menus.session import SessionStore

log = logging.getLogger(__name__)

bp = Blueprint("ussd", __name__)
bp.before_request(webhook_auth.check_callback)

WRONG_CODE = "END This service code is not in use. Please check the number you dialled."
TOO_LONG = "END Sorry, that was too long. Please dial again."
BUSY = "END Service busy, please try again in a few minutes."
# Past USSD_MSISDN_LIMIT, in DEFAULT_LANGUAGE (the caller's is not looked up:
# a flood must cost no database work).
TOO_OFTEN = N_("Too many requests from your number. Please wait a minute and dial again.")


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge) -> Response:
    # As plain as every other refusal (Werkzeug's own is an HTML page).
    return _plain("Bad request: body too large", 413)


def _form() -> Mapping[str, str]:
    """The callback's form fields. The gateway posts ``application/x-www-form-urlencoded``:
    read and split that directly from the WSGI input (a fraction of the cost of
    the general form parser, and this runs on every hop); anything else goes
    through Werkzeug's parser. Raises ``RequestEntityTooLarge`` (413) past
    ``MAX_CONTENT_LENGTH``."""
    environ = request.environ
    if not environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    ) or not environ.get("CONTENT_LENGTH"):
        return request.form  # another encoding, or a chunked body
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > (current_app.config["MAX_CONTENT_LENGTH"] or length):
        raise RequestEntityTooLarge()
    body = environ["wsgi.input"].read(length).decode("utf-8", "replace") if length > 0 else ""
    fields: dict[str, str] = {}
    for pair in body.split("&"):
        key, _, value = pair.partition("=")
        if "%" in value or "+" in value:
            value = unquote_plus(value, errors="replace")
        if key not in fields:  # the first of a repeated field wins, as in request.form
            fields[key] = value
    return fields


@bp.post("/ussd")
def ussd_callback() -> Response:
    """Answer one hop, counted and timed by outcome (``app.metrics``): ``CON``,
    ``END``, ``limited`` (past the number's ``USSD_MSISDN_LIMIT``), or ``error``
    for a refused callback, "busy" or an exception."""
    started = time.perf_counter()
    outcome = "error"
    try:
        body, status = _answer()
        if status == 429:
            outcome = "limited"
            status = 200  # the gateway shows a 200's body to the caller, not a 429's
        elif status == 200 and body != BUSY:
            outcome = "CON" if body.startswith("CON ") else "END"
        return _plain(body, status)
    finally:
        metrics.observe_ussd_hop(outcome, time.perf_counter() - started)


def _answer() -> tuple[str, int]:
    """The answer's body and HTTP status (429: the number is over its limit)."""
    cfg = current_app.config
    try:
        req = parse_ussd(_form(), cfg["DEFAULT_REGION"])
    except BadCallback as exc:
        return f"Bad request: {exc}", 400
    if req.service_code != cfg["USSD_SERVICE_CODE"]:
        return WRONG_CODE, 200
    if len(req.text) > cfg["USSD_MAX_TEXT"]:
        return TOO_LONG, 200
    if not abuse.allow("ussd", req.msisdn):
        return "END " + gettext_for(cfg["DEFAULT_LANGUAGE"])(TOO_OFTEN), 429
    engine: Engine = current_app.extensions["ngazi_ussd_engine"]
    store: SessionStore = current_app.extensions["ngazi_ussd_store"]
    caller = Caller(req.session_id, req.msisdn, req.service_code, req.network_code, req.text)
    try:
        answer = engine.handle(caller, db=db_session(), store=store)
    except (SQLAlchemyError, RedisError):
        log.exception("ussd: backing service failed for session %s", req.session_id)
        db_session().rollback()
        return BUSY, 200
    return answer, 200


def init_app(app: Flask) -> None:
    app.extensions["ngazi_ussd_engine"] = Engine(
        MENUS,
        limits=Limits(app.config["USSD_GSM7_LIMIT"], app.config["USSD_UCS2_LIMIT"]),
        default_language=app.config["DEFAULT_LANGUAGE"],
        fold_to_gsm7=app.config["USSD_GSM7_FOLD"],
    )
    url = app.config["REDIS_URL"]
    app.extensions["ngazi_ussd_store"] = SessionStore(
        lambda: make_redis(url), app.config["USSD_SESSION_TTL"]
    )
    app.register_blueprint(bp)
    if app.config["BENCH_ENDPOINT"]:
        # The benchmark's ceiling: the same server, no work.
        app.add_url_rule(
            "/bench/hello", "bench_hello", lambda: _plain("CON hello"), methods=["POST"]
        )

"""Africa's Talking SMS callbacks: ``POST /sms/inbound`` (a message to our short
code), ``/sms/delivery`` (delivery reports) and ``/sms/optout`` (bulk SMS
opt-out notices).

Each parses and validates the form, hands over to a domain function and answers
``text/plain`` at once: 400 with a short reason for a malformed callback, 503
when the database is away (the gateway tries again), never 500. An inbound
message is stored before anything reads it; an RQ job acts on it. While the
database is away an inbound message is held in Redis instead
(``domain.inbound_hold``) and stored when it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from flask import Blueprint, Flask, Response, current_app, request
from redis import RedisError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from app import abuse, webhook_auth
from app.db import db_session
from app.gateways.africastalking import BadCallback
from app.redis_store import get_redis
from domain import delivery, inbound, inbound_hold
from domain.phone import InvalidMsisdn, normalise_msisdn
from domain.subscribers import opt_out
from models import InboundStatus
from models.base import utcnow

log = logging.getLogger(__name__)

bp = Blueprint("sms", __name__, url_prefix="/sms")
bp.before_request(webhook_auth.check_callback)

BUSY = "Service busy, please try again."

# Field limits: the columns' sizes (models/sms.py). A concatenated SMS the
# gateway joins back together is at most a few parts; 10 parts of 160
# characters is past anything typed on a basic phone.
MAX_ID = 64
MAX_TO = 32
MAX_DATE = 32
#: The longest text a concatenated SMS can carry: 255 parts of 153 GSM-7
#: characters (3GPP TS 23.040, 9.2.3.24.1: an 8-bit part count).
MAX_TEXT = 255 * 153
MAX_STATUS = 32


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge) -> Response:
    # Past MAX_CONTENT_LENGTH: as plain as every other refusal (Werkzeug's is HTML).
    return _plain("Bad request: body too large", 413)


def _field(form: Mapping[str, str], name: str, limit: int) -> str:
    value = form.get(name) or ""
    if "\x00" in value:
        raise BadCallback(f"NUL byte in {name}")
    if len(value) > limit:
        raise BadCallback(f"{name} too long")
    return value


def _msisdn(raw: str, name: str, region: str) -> str:
    if not raw.strip():
        raise BadCallback(f"{name} is required")
    try:
        return normalise_msisdn(raw, region)
    except InvalidMsisdn as exc:
        raise BadCallback(f"{name} is not a phone number") from exc


def parse_inbound(form: Mapping[str, str], region: str) -> inbound.InboundMessage:
    """Validate an incoming-message callback: ``from``, ``to``, ``text``, ``date``,
    ``id``, ``linkId``. Raises ``BadCallback`` for a missing ``from`` or ``id``,
    a ``from`` that is not a phone number, NUL bytes or an over-long field other
    than the text (NUL in the text becomes U+FFFD; a text longer than any SMS is
    cut to ``MAX_TEXT``)."""
    gateway_id = _field(form, "id", MAX_ID).strip()
    if not gateway_id:
        raise BadCallback("id is required")
    msisdn = _msisdn(_field(form, "from", 32), "from", region)
    return inbound.InboundMessage(
        gateway_id=gateway_id,
        msisdn=msisdn,
        to=_field(form, "to", MAX_TO).strip(),
        # Kept even with NUL bytes (a text column cannot hold them): a message
        # is stored before anything else is done with it, whatever it says.
        text=(form.get("text") or "")[:MAX_TEXT].replace("\x00", "\ufffd"),
        link_id=_field(form, "linkId", MAX_ID).strip() or None,
        gateway_date=_field(form, "date", MAX_DATE).strip() or None,
    )


def parse_report(form: Mapping[str, str], region: str) -> delivery.Report:
    """Validate a delivery report: ``id``, ``status``, ``phoneNumber``,
    ``networkCode``, ``failureReason``, ``retryCount``. Raises ``BadCallback``
    for a missing ``id`` or ``status``, NUL bytes or an over-long id or status.
    A phone number that does not parse is dropped (it only serves to reconcile)."""
    message_id = _field(form, "id", MAX_ID).strip()
    status = _field(form, "status", MAX_STATUS).strip()
    if not message_id or not status:
        raise BadCallback("id and status are required")
    try:
        msisdn: str | None = _msisdn(_field(form, "phoneNumber", 32), "phoneNumber", region)
    except BadCallback:
        msisdn = None
    network = _field(form, "networkCode", 64).strip()
    reason = _field(form, "failureReason", 1000).strip()
    retries = _field(form, "retryCount", 16).strip()
    return delivery.Report(
        message_id=message_id,
        status=status,
        msisdn=msisdn,
        # MCC + MNC (ITU-T E.212): digits only, or nothing worth keeping.
        network_code=network
        if network.isascii() and network.isdigit() and len(network) <= 8
        else None,
        failure_reason=reason[:120] or None,
        retry_count=int(retries) if retries.isascii() and retries.isdigit() else None,
    )


@bp.post("/inbound")
def inbound_sms() -> Response:
    """Store the message, answer 200, and let a job act on it."""
    try:
        message = parse_inbound(request.form, current_app.config["DEFAULT_REGION"])
    except BadCallback as exc:
        return _plain(f"Bad request: {exc}", 400)
    # Past the sender's limit it is kept all the same, marked not to act on.
    allowed = abuse.allow("sms", message.msisdn)
    status = InboundStatus.RECEIVED if allowed else InboundStatus.THROTTLED
    db = db_session()
    try:
        stored = inbound.receive(db, message, status)
    except SQLAlchemyError:
        log.exception("sms inbound: could not store message %s", message.gateway_id)
        db.rollback()
        return _hold(message, status)
    if stored.status in inbound.CLAIMABLE:  # new, or its job may have been lost
        _enqueue_processing(stored.id)
    return _plain("OK")


def _hold(message: inbound.InboundMessage, status: InboundStatus) -> Response:
    """The database is away: keep the message in Redis until it returns
    (``domain.inbound_hold``); 503 when Redis is away too (the gateway retries)."""
    try:
        count = inbound_hold.hold(get_redis(), message, status)
    except RedisError:
        log.exception("sms inbound: could not hold message %s either", message.gateway_id)
        return _plain(BUSY, 503)
    log.warning("sms inbound: message %s held in Redis (%d held)", message.gateway_id, count)
    return _plain("OK")


def release_held() -> int:
    """Store the messages held while the database was away and enqueue each new
    one's processing; returns how many were stored. For the campaigns' tick and
    ``flask sms retry-inbound``."""
    stored = inbound_hold.release(db_session(), get_redis())
    for received in stored:
        if received.created and received.status in inbound.CLAIMABLE:
            _enqueue_processing(received.id)
    return len(stored)


def _enqueue_processing(inbound_id: int) -> None:
    from workers import INBOUND, enqueue
    from workers.inbound import process_inbound

    try:
        enqueue(INBOUND, process_inbound, inbound_id)
    except Exception:
        # Stored and still `received`: `flask sms retry-inbound` picks it up.
        log.exception("sms inbound: could not enqueue message %s", inbound_id)


@bp.post("/delivery")
def delivery_report() -> Response:
    try:
        report = parse_report(request.form, current_app.config["DEFAULT_REGION"])
    except BadCallback as exc:
        return _plain(f"Bad request: {exc}", 400)
    db = db_session()
    config = current_app.config
    # A claim younger than the gateway's timeout may still be answered by its
    # worker: the report waits for that answer (the campaigns' tick applies it).
    # Without Redis there are no workers racing the webhook: apply it at once.
    settle = timedelta(seconds=config["AT_SMS_TIMEOUT"] + 5) if config["REDIS_URL"] else None
    try:
        outcome = delivery.apply_report(db, report, settle_after=settle)
        if outcome == "later" and settle is not None:  # the tick applies it when due
            delivery.wait(db, report, utcnow() + settle)
        db.commit()
    except SQLAlchemyError:
        log.exception("sms delivery: could not apply report %s", report.message_id)
        db.rollback()
        return _plain(BUSY, 503)
    from workers.campaigns import note_report  # reports are coming in: claims wait for theirs

    note_report(utcnow())
    return _plain(outcome)


@bp.post("/optout")
def optout_notice() -> Response:
    """The gateway's bulk SMS opt-out notice (``senderId``, ``phoneNumber``): the
    number opted out of our sender id at the network."""
    try:
        _field(request.form, "senderId", 64)
        msisdn = _msisdn(
            _field(request.form, "phoneNumber", 32),
            "phoneNumber",
            current_app.config["DEFAULT_REGION"],
        )
    except BadCallback as exc:
        return _plain(f"Bad request: {exc}", 400)
    db = db_session()
    try:
        opt_out(db, msisdn, "gateway")
        db.commit()
    except SQLAlchemyError:
        log.exception("sms optout: could not record the opt-out")
        db.rollback()
        return _plain(BUSY, 503)
    return _plain("OK")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

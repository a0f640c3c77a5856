"""Send one queued outbound SMS (a reply, a confirmation, an article by SMS), once.

The claim protocol is the campaigns' (``workers.campaigns``), for one row:

- ``send_sms`` claims the row (``queued`` → ``sending``, ``claimed_at``,
  ``attempts`` + 1, committed before the gateway is called), so a second run of
  the same job does nothing, and asks for a ``settle_sms`` check at
  ``CAMPAIGN_CLAIM_TIMEOUT`` from now.
- The gateway answers: its answer is recorded (a delivery report that raced it
  keeps its later status).
- The gateway did not take it (refused, 5xx, no balance): the claim is released
  and ``GatewayUnavailable`` raised, so RQ retries with backoff.
- The gateway may have taken it (a read timeout, an unreadable answer) or the
  worker died: the claim stays. Its delivery report settles it
  (``domain.delivery``: matched by number to the unanswered claim), or
  ``settle_sms`` puts it back once the claim timeout has passed with no report.
- ``settle_sms`` also sends again a row still ``queued`` (its job was lost with
  Redis, or its retries ran out while the gateway was down), until
  ``SMS_MAX_AGE``: an SMS not sent within a day is marked ``failed`` (a reply
  that late would make no sense).
- ``sweep_after_redis_loss`` (the campaigns' tick) finds the rows whose jobs and
  checks were lost with Redis's data: one scan of the table per loss of Redis
  (every tick in the embedded default, which has no scheduler for the checks).

The one case that can send twice: the gateway took the message and its report
did not come within ``CAMPAIGN_CLAIM_TIMEOUT`` (900 s by default).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from app.db import db_session
from app.gateways import GatewayUnavailable, sms_sender
from domain.sms_encoding import parts
from models import OutboundSms, SmsStatus, WaitingReport
from models.base import utcnow
from workers import SMS, enqueue, job, queue
from workers.campaigns import release_claims, store_answers

log = logging.getLogger(__name__)

#: An SMS not sent within this long is given up (``failed``, "not sent in time").
SMS_MAX_AGE = timedelta(hours=24)
#: Set in Redis once the rows whose jobs a loss of Redis took have been found.
SWEPT_KEY = "ngazi:sms:swept"


@job
def send_sms(outbound_id: int) -> str:
    """Send the ``queued`` SMS ``outbound_id`` through the configured gateway
    (module docstring). Returns the row's status afterwards (``sending`` when
    the gateway may have taken it and its report will tell), or ``missing``.
    Raises ``GatewayUnavailable`` (the claim released) so RQ retries later."""
    db = db_session()
    claimed = db.execute(
        update(OutboundSms)
        .where(OutboundSms.id == outbound_id, OutboundSms.status == SmsStatus.QUEUED)
        .values(status=SmsStatus.SENDING, claimed_at=utcnow(), attempts=OutboundSms.attempts + 1)
    ).rowcount  # type: ignore[attr-defined]
    db.commit()
    row = db.get(OutboundSms, outbound_id)
    if row is None:
        return "missing"
    if not claimed:
        return row.status.value
    _check_later(outbound_id)
    body = row.body or ""  # campaign rows (body rendered at send time) never come here
    sender = sms_sender(current_app.config)
    try:
        result = sender.send(row.msisdn, body)
    except GatewayUnavailable as exc:
        if exc.maybe_sent:  # its report, or settle_sms, decides
            log.warning("sms %s: the gateway may have taken it: %s", outbound_id, exc)
            return SmsStatus.SENDING.value
        release_claims(db, [outbound_id])
        raise
    # The answer; a delivery report that came first (and took the claim) keeps
    # its status and message id.
    mid = result.message_id if result.message_id not in (None, "None") else None
    answer = {
        "id": outbound_id,
        "status": result.status.value,
        "mid": mid,
        "cost": result.cost,
        "reason": result.failure_reason,
    }
    store_answers(db, sender.name, parts(body), utcnow(), [answer])
    db.commit()
    db.refresh(row)
    return row.status.value


def _check_later(outbound_id: int) -> None:
    """Ask for ``settle_sms`` a claim timeout (and a little) from now. Without
    Redis (the embedded default: jobs inline, no scheduler) nothing is asked:
    ``flask campaign tick`` runs the checks there (``sweep_after_redis_loss``)."""
    config = current_app.config
    if config["REDIS_URL"]:
        delay = timedelta(seconds=config["CAMPAIGN_CLAIM_TIMEOUT"] + 5)
        queue(SMS).enqueue_in(delay, settle_sms, outbound_id, result_ttl=0)


@job
def settle_sms(outbound_id: int) -> str:
    """See that the single SMS ``outbound_id`` goes out once (module docstring);
    safe to run at any time, any number of times. Returns what it did:
    ``sent`` (it went, or its report came; nothing to do), ``requeued`` (sent
    again: still queued, or claimed with no answer and no report past the claim
    timeout), ``waiting`` (a claim still young; checked again later), ``expired``
    (older than ``SMS_MAX_AGE``: marked failed), or ``missing``."""
    db = db_session()
    row = db.get(OutboundSms, outbound_id)
    if row is None or row.campaign_id is not None:
        return "missing"
    now = utcnow()
    return _settle(db, row, now, current_app.config)


def _settle(db: Session, row: OutboundSms, now: datetime, config: Any) -> str:
    if row.status is SmsStatus.QUEUED:
        if row.created_at < now - SMS_MAX_AGE:
            db.execute(
                update(OutboundSms)
                .where(OutboundSms.id == row.id, OutboundSms.status == SmsStatus.QUEUED)
                .values(status=SmsStatus.FAILED, failure_reason="not sent in time")
                .execution_options(synchronize_session=False)
            )
            db.commit()
            log.error("sms %s: not sent within %s; given up", row.id, SMS_MAX_AGE)
            return "expired"
        enqueue(SMS, send_sms, row.id)
        return "requeued"
    if row.status is not SmsStatus.SENDING or row.gateway_message_id is not None:
        return "sent"
    timeout = timedelta(seconds=config["CAMPAIGN_CLAIM_TIMEOUT"])
    claimed_at = row.claimed_at or row.created_at
    waiting = db.scalar(select(exists().where(WaitingReport.msisdn == row.msisdn)))
    if claimed_at > now - timeout or waiting:
        _check_later(row.id)
        return "waiting"
    put_back = db.execute(
        update(OutboundSms)
        .where(
            OutboundSms.id == row.id,
            OutboundSms.status == SmsStatus.SENDING,
            OutboundSms.gateway_message_id.is_(None),
        )
        .values(status=SmsStatus.QUEUED)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    db.commit()
    if not put_back:  # its report came meanwhile
        return "sent"
    log.warning(
        "sms %s: claimed %s ago with no answer or report; sending again", row.id, now - claimed_at
    )
    enqueue(SMS, send_sms, row.id)
    return "requeued"


def sweep_after_redis_loss(db: Session, now: datetime) -> int:
    """Settle every single SMS not yet sent, when Redis has lost its data since
    the last sweep (``SWEPT_KEY`` is gone: its jobs and checks went with it), and
    at every tick in the embedded default (no scheduler there). One scan of
    ``outbound_sms`` (no index on ``status``, by design: ``models.sms``). Returns
    how many rows it looked at."""
    from app.redis_store import get_redis

    config = current_app.config
    if config["REDIS_URL"] and not get_redis().set(SWEPT_KEY, now.isoformat(), nx=True):
        return 0
    ids = db.scalars(
        select(OutboundSms.id).where(
            OutboundSms.campaign_id.is_(None),
            OutboundSms.status.in_([SmsStatus.QUEUED, SmsStatus.SENDING]),
        )
    ).all()
    for outbound_id in ids:
        row = db.get(OutboundSms, outbound_id)
        if row is not None:
            _settle(db, row, now, config)
    if ids:
        log.warning("sms: %s unsent messages found after Redis lost its data", len(ids))
    return len(ids)

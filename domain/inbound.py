"""Inbound SMS: store the raw message first, then act on its keyword and reply.

``receive`` keeps the message as the gateway posted it (once per gateway id,
even when posted twice at the same moment). ``process`` claims a stored
message, applies its keyword (STOP opts the number out, START back in; HELP
and anything else get the help text) and queues exactly one reply, in the
sender's language. The row is never deleted: a message that failed stays
``failed`` with its error until ``flask sms retry-inbound`` runs it again.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from domain import keywords
from domain.sms import queue_sms
from domain.sql import upsert
from domain.subscribers import opt_in, opt_out, superseded
from domain.translation import N_, gettext_for
from models import InboundSms, InboundStatus, Subscriber
from models.base import utcnow

MSG_OPTED_OUT = N_("Ngazi: you will get no more messages from us. Reply START to get them again.")
MSG_OPTED_IN = N_("Ngazi: welcome back, you will get our messages again. Reply STOP to stop them.")
MSG_HELP = N_(
    "Ngazi: dial %(code)s for the menu. Reply STOP to stop messages, START to get them again."
)

#: Statuses a message can be claimed from: never processed, or processing raised.
CLAIMABLE = (InboundStatus.RECEIVED, InboundStatus.FAILED)


class InboundMessage(NamedTuple):
    """One incoming SMS, validated at the edge (``msisdn`` is E.164)."""

    gateway_id: str
    msisdn: str
    to: str
    text: str
    link_id: str | None = None
    gateway_date: str | None = None


class Received(NamedTuple):
    id: int
    created: bool  # False: the gateway had posted this id before
    status: InboundStatus


class Processed(NamedTuple):
    outcome: str  # "opt-out", "opt-in", "help", "superseded" or "ignored"
    reply_id: int | None  # the outbound SMS answering it (None: no reply)
    reply_pending: bool  # the reply still waits to be sent: enqueue ``send_sms``


def receive(db: Session, message: InboundMessage) -> Received:
    """Store ``message`` as ``received`` and commit; the same ``gateway_id`` again
    (even concurrently) stores nothing and returns the first row."""
    stmt = (
        upsert(db, InboundSms)
        .values(
            gateway_id=message.gateway_id,
            msisdn=message.msisdn,
            to=message.to,
            text=message.text,
            link_id=message.link_id,
            gateway_date=message.gateway_date,
            status=InboundStatus.RECEIVED,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[InboundSms.gateway_id])
        .returning(InboundSms.id)
    )
    new_id = db.execute(stmt).scalar()
    db.commit()
    if new_id is not None:
        return Received(new_id, True, InboundStatus.RECEIVED)
    row = db.execute(
        select(InboundSms.id, InboundSms.status).where(InboundSms.gateway_id == message.gateway_id)
    ).one()
    return Received(row.id, False, row.status)


def process(db: Session, inbound_id: int, *, service_code: str) -> Processed | None:
    """Act on the stored message ``inbound_id`` and queue its reply; commits.

    Returns None when the message is not claimable (already processed, or being
    processed by another run: the claim waits for that run's transaction).
    The claim, the opt-out or opt-in and the reply commit together. The reply's
    dedup key is ``inbound:<gateway id>``, so a message run twice (a retry after
    a failure) is answered once. ``service_code`` is the USSD code the help
    text names. Raises whatever the database raises; see ``mark_failed``.
    """
    claimed = db.execute(
        update(InboundSms)
        .where(InboundSms.id == inbound_id, InboundSms.status.in_(CLAIMABLE))
        .values(status=InboundStatus.PROCESSED, processed_at=utcnow(), error=None)
        .returning(
            InboundSms.gateway_id, InboundSms.msisdn, InboundSms.text, InboundSms.received_at
        )
    ).first()
    if claimed is None:
        db.rollback()
        return None
    found = keywords.match(claimed.text)
    language = reply_language(db, claimed.msisdn, found)
    gettext = gettext_for(language)
    name = found.name if found is not None else None
    at = claimed.received_at
    body: str | None
    if name in ("stop", "start") and superseded(db, claimed.msisdn, at):
        # An older STOP or START processed late (a retry): a later wish stands.
        outcome, body = "superseded", None
    elif name == "stop":
        # One confirmation: a STOP from a number already opted out (a repeat,
        # or a number the network blacklisted) gets none.
        changed = opt_out(db, claimed.msisdn, "sms", at=at)
        outcome, body = "opt-out", gettext(MSG_OPTED_OUT) if changed else None
    elif name == "start":
        opt_in(db, claimed.msisdn, at=at)
        outcome, body = "opt-in", gettext(MSG_OPTED_IN)
    elif name != "help" and _opted_out(db, claimed.msisdn):
        # Someone who said STOP gets nothing unasked: only HELP is answered.
        outcome, body = "ignored", None
    else:  # HELP, empty, emoji, and keywords not handled yet (JOBS, CANCEL, …)
        outcome, body = "help", gettext(MSG_HELP) % {"code": service_code}
    db.execute(update(InboundSms).where(InboundSms.id == inbound_id).values(outcome=outcome))
    if body is None:
        db.commit()
        return Processed(outcome, None, False)
    # queue_sms commits: the claim, the opt-out and the reply land together.
    queued = queue_sms(
        db, msisdn=claimed.msisdn, body=body, dedup_key=f"inbound:{claimed.gateway_id}"
    )
    return Processed(outcome, queued.id, queued.pending)


def _opted_out(db: Session, msisdn: str) -> bool:
    return bool(db.scalar(select(Subscriber.opted_out).where(Subscriber.msisdn == msisdn)))


def reply_language(db: Session, msisdn: str, keyword: keywords.Keyword | None) -> str:
    """The language to answer ``msisdn`` in: the one it chose on USSD, else the
    keyword's ("ACHA" is Kiswahili), else English."""
    stored = db.scalar(select(Subscriber.language).where(Subscriber.msisdn == msisdn))
    if stored:
        return stored
    return keyword.language if keyword is not None else "en"


def mark_failed(db: Session, inbound_id: int, error: BaseException) -> None:
    """Record that processing ``inbound_id`` raised ``error`` (kept for a retry).
    Call after a rollback. Does not commit."""
    db.execute(
        update(InboundSms)
        .where(InboundSms.id == inbound_id)
        .values(status=InboundStatus.FAILED, error=f"{type(error).__name__}: {error}"[:2000])
    )


def retryable(db: Session) -> list[int]:
    """Ids of the messages not processed yet (``received``, its job perhaps never
    enqueued) or whose processing raised (``failed``), oldest first."""
    return list(
        db.scalars(
            select(InboundSms.id).where(InboundSms.status.in_(CLAIMABLE)).order_by(InboundSms.id)
        )
    )

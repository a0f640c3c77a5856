"""How long raw messages and the audit log are kept: ``purge`` applies the
retention settings (``RAW_SMS_RETENTION_DAYS``, ``AUDIT_RETENTION_DAYS``).

* ``inbound_sms`` received more than ``sms_days`` ago: **deleted**, whatever
  its status. The text is the only reason to keep the row: once processed, what
  it did lives elsewhere (an offer, an opt-out, a subscription), and a row
  without its text would say no more than "this number texted that day". An
  offer made by SMS loses its link to the message (``inbound_id``), nothing else.
* ``outbound_sms`` created more than ``sms_days`` ago and no longer waiting to be
  sent: **text removed** (``body``), and the keys that name a buyer's number
  (``contact:…``); the row stays, since the campaigns' delivery counts and
  costs and ``/metrics`` count rows by status. A campaign's rows have no text
  of their own (it is the campaign's, rendered when sent).
* ``audit_event`` older than ``audit_days``: **deleted**; ``0`` keeps it for ever
  (the default: how long the accountability record is kept is the programme's
  policy to set).

Rows go a batch at a time (``BATCH``), each batch its own transaction, so a
first purge of years of messages never holds a long lock. Idempotent: a second
run at the same time changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, select, update
from sqlalchemy.orm import Session

from models import AuditEvent, InboundSms, OutboundSms, ProduceOffer, SmsStatus

#: Rows per statement (and per transaction).
BATCH = 5000
#: Outbound statuses still to be sent: their text is needed.
PENDING = (SmsStatus.QUEUED, SmsStatus.SENDING)


@dataclass(frozen=True)
class Purged:
    inbound_deleted: int
    outbound_blanked: int
    audit_deleted: int


def purge(
    db: Session,
    now: datetime,
    *,
    sms_days: int,
    audit_days: int = 0,
    max_batches: int | None = None,
) -> Purged:
    """Apply the retention periods as of ``now`` (see the module's docstring).
    ``sms_days`` or ``audit_days`` of 0 or less keeps those rows for ever.
    ``max_batches`` bounds the batches per kind (the workers' maintenance runs a
    few, the CLI all). Commits after each batch."""
    inbound = blanked = audit = 0
    if sms_days > 0:
        cutoff = now - timedelta(days=sms_days)
        old = select(InboundSms.id).where(InboundSms.received_at < cutoff)
        inbound = _batches(db, max_batches, lambda: _drop_inbound(db, old))
        stale = and_(
            OutboundSms.created_at < cutoff,
            OutboundSms.status.not_in(PENDING),
            (OutboundSms.body.is_not(None)) | OutboundSms.dedup_key.like("contact:%"),
        )
        blanked = _batches(
            db,
            max_batches,
            lambda: _n(
                db.execute(
                    update(OutboundSms)
                    .where(OutboundSms.id.in_(select(OutboundSms.id).where(stale).limit(BATCH)))
                    .values(body=None, dedup_key=_key_without_number())
                    .execution_options(synchronize_session=False)
                )
            ),
        )
    if audit_days > 0:
        old_events = select(AuditEvent.id).where(
            AuditEvent.created_at < now - timedelta(days=audit_days)
        )
        audit = _batches(
            db,
            max_batches,
            lambda: _n(
                db.execute(
                    delete(AuditEvent)
                    .where(AuditEvent.id.in_(old_events.limit(BATCH)))
                    .execution_options(synchronize_session=False)
                )
            ),
        )
    return Purged(inbound, blanked, audit)


def _n(result: Any) -> int:
    return int(result.rowcount or 0)


def _batches(db: Session, max_batches: int | None, step: Any) -> int:
    total, batches = 0, 0
    while max_batches is None or batches < max_batches:
        done = step()
        db.commit()
        total, batches = total + done, batches + 1
        if done < BATCH:
            break
    return total


def _drop_inbound(db: Session, old: Any) -> int:
    ids = list(db.scalars(old.limit(BATCH)))
    if not ids:
        return 0
    db.execute(
        update(ProduceOffer)
        .where(ProduceOffer.inbound_id.in_(ids))
        .values(inbound_id=None)
        .execution_options(synchronize_session=False)
    )
    return _n(
        db.execute(
            delete(InboundSms)
            .where(InboundSms.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
    )


def _key_without_number() -> Any:
    """The row's dedup key, or NULL when it names a buyer's number."""
    return case((OutboundSms.dedup_key.like("contact:%"), None), else_=OutboundSms.dedup_key)

"""Outbound SMS: queue one message to one MSISDN, idempotently.

The row is written first, then an RQ job sends it (``workers.sms.send_sms``), so
a message is never lost between the request that wanted it and the gateway.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import OutboundSms, SmsStatus


class Queued(NamedTuple):
    id: int
    created: bool  # False: the dedup key had been used, nothing new was queued


def queue_sms(db: Session, *, msisdn: str, body: str, dedup_key: str | None) -> Queued:
    """Insert an outbound SMS in ``queued`` state and commit.

    ``dedup_key`` names the effect that wants the message (e.g.
    ``"ussd:<sessionId>:<hop>"``); the same key twice returns the first row
    with ``created=False``. The caller enqueues the send job only when created.
    """
    if dedup_key is not None:
        existing = db.scalar(select(OutboundSms.id).where(OutboundSms.dedup_key == dedup_key))
        if existing is not None:
            return Queued(existing, False)
    row = OutboundSms(msisdn=msisdn, body=body, status=SmsStatus.QUEUED, dedup_key=dedup_key)
    try:
        with db.begin_nested():
            db.add(row)
    except IntegrityError:
        existing = db.scalar(select(OutboundSms.id).where(OutboundSms.dedup_key == dedup_key))
        assert existing is not None
        db.commit()
        return Queued(existing, False)
    db.commit()
    return Queued(row.id, True)


def inbox(db: Session, msisdn: str, limit: int = 20) -> list[OutboundSms]:
    """The newest messages sent to ``msisdn``, newest first (the simulator's inbox)."""
    return list(
        db.scalars(
            select(OutboundSms)
            .where(OutboundSms.msisdn == msisdn)
            .order_by(OutboundSms.id.desc())
            .limit(limit)
        )
    )

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
    pending: bool  # still waiting to be sent: enqueue the send job (it runs once)


def queue_sms(db: Session, *, msisdn: str, body: str, dedup_key: str | None) -> Queued:
    """Insert an outbound SMS in ``queued`` state and commit.

    ``dedup_key`` names the effect that wants the message (``Context.effect_key``);
    the same key twice returns the first row with ``created=False``. The caller
    enqueues the send job whenever ``pending``: enqueuing can fail after the row
    is committed (Redis away), and the job claims the row, so a second enqueue
    sends nothing twice.
    """
    if dedup_key is not None:
        found = _by_key(db, dedup_key)
        if found is not None:
            return found
    row = OutboundSms(msisdn=msisdn, body=body, status=SmsStatus.QUEUED, dedup_key=dedup_key)
    try:
        with db.begin_nested():
            db.add(row)
    except IntegrityError:
        db.commit()
        found = _by_key(db, dedup_key or "")
        assert found is not None
        return found
    db.commit()
    return Queued(row.id, True, True)


def _by_key(db: Session, dedup_key: str) -> Queued | None:
    row = db.execute(
        select(OutboundSms.id, OutboundSms.status).where(OutboundSms.dedup_key == dedup_key)
    ).first()
    return None if row is None else Queued(row.id, False, row.status == SmsStatus.QUEUED)


def inbox(db: Session, msisdn: str, limit: int = 20) -> list[tuple[OutboundSms, str]]:
    """The newest messages sent to ``msisdn`` with their text, newest first (the
    simulator's inbox). A campaign's message is rendered from its campaign."""
    from domain.campaigns import text_of
    from models import Campaign

    rows = db.scalars(
        select(OutboundSms)
        .where(OutboundSms.msisdn == msisdn)
        .order_by(OutboundSms.id.desc())
        .limit(limit)
    ).all()
    out = []
    for row in rows:
        text = row.body
        campaign = db.get(Campaign, row.campaign_id) if row.campaign_id is not None else None
        if text is None and campaign is not None:
            text = text_of(db, campaign, row.language or campaign.default_language, row.area_id)
        out.append((row, text or ""))
    return out

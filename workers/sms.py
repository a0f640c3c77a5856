"""Send one queued outbound SMS."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import update

from app.db import db_session
from app.gateways import sms_sender
from domain.sms_encoding import parts
from models import OutboundSms, SmsStatus
from models.base import utcnow
from workers import job


@job
def send_sms(outbound_id: int) -> str:
    """Send the ``queued`` SMS ``outbound_id`` through the configured gateway.

    Claims the row first (``queued`` → ``sent`` with no message id yet), so a
    second run of the same job does nothing. Returns the row's final status.
    Raises ``GatewayUnavailable`` (the claim is released) so RQ retries later.
    """
    db = db_session()
    claimed = db.execute(
        update(OutboundSms)
        .where(OutboundSms.id == outbound_id, OutboundSms.status == SmsStatus.QUEUED)
        .values(status=SmsStatus.SENT, sent_at=utcnow())
    ).rowcount  # type: ignore[attr-defined]
    db.commit()
    if not claimed:
        row = db.get(OutboundSms, outbound_id)
        return row.status.value if row else "missing"
    row = db.get(OutboundSms, outbound_id)
    assert row is not None
    body = row.body or ""  # campaign rows (body rendered at send time) never come here
    sender = sms_sender(current_app.config)
    try:
        result = sender.send(row.msisdn, body)
    except Exception:
        row.status = SmsStatus.QUEUED
        row.sent_at = None
        db.commit()
        raise
    row.status = result.status
    row.gateway = sender.name
    row.gateway_message_id = result.message_id
    row.cost = result.cost
    row.failure_reason = result.failure_reason
    row.parts = parts(body)
    db.commit()
    return row.status.value

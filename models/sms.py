from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, str_enum, utcnow


class SmsStatus(enum.StrEnum):
    """Life of an outbound SMS: queued → sent → delivered / failed / rejected."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    REJECTED = "rejected"


class OutboundSms(Base):
    """One message to one MSISDN.

    ``dedup_key`` makes the effect that queued it idempotent: a repeated USSD
    callback or a retried job finds the row instead of adding a second one.
    ``gateway`` says where it went: ``africastalking`` or ``outbox`` (the local
    outbox used when no gateway credentials are set).
    """

    __tablename__ = "outbound_sms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(16), index=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[SmsStatus] = mapped_column(str_enum(SmsStatus), default=SmsStatus.QUEUED)
    dedup_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    gateway: Mapped[str | None] = mapped_column(String(32))
    gateway_message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    cost: Mapped[str | None] = mapped_column(String(32))  # as the gateway states it, "KES 0.8000"
    parts: Mapped[int | None] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

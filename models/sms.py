from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, str_enum, utcnow


class SmsStatus(enum.StrEnum):
    """Life of an outbound SMS: queued → sent → delivered / failed / rejected."""

    QUEUED = "queued"
    SENDING = "sending"  # claimed by a worker, the gateway's answer not yet recorded
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    REJECTED = "rejected"
    SKIPPED = "skipped"  # not sent: opted out by send time, or the campaign was cancelled


#: How far along each status is: a status only moves to a higher rank, so a late
#: report never takes a message back (``sent`` after ``delivered``).
RANK = {
    SmsStatus.QUEUED: 0,
    SmsStatus.SENDING: 1,
    SmsStatus.SENT: 2,
    SmsStatus.DELIVERED: 3,
    SmsStatus.FAILED: 3,
    SmsStatus.REJECTED: 3,
    SmsStatus.SKIPPED: 3,
}


#: Percent of each ``outbound_sms`` page filled on insert (PostgreSQL): the rest
#: takes the row's later versions on the same page (HOT updates).
FILLFACTOR = 50


class OutboundSms(Base):
    """One message to one MSISDN: a transactional reply, or one campaign recipient.

    ``dedup_key`` makes the effect that queued it idempotent: a repeated USSD
    callback or a retried job finds the row instead of adding a second one.
    ``gateway`` says where it went: ``africastalking`` or ``outbox`` (the local
    outbox used when no gateway credentials are set).

    A campaign's rows are written by its planner with no ``body``: the text is
    the campaign's template for the row's language and village
    (``domain.campaigns.text_of``), rendered by the worker that sends it.
    ``(campaign_id, msisdn)`` is unique: nobody gets the same campaign twice.
    ``claimed_at`` is when a worker took the row to send (``sending``); a claim
    with no answer from the gateway is reconciled by ``workers.campaigns``.
    ``reported_at`` is when the first delivery report for the message was
    applied: how far the gateway's reports have come tells a claim whose report
    is late from one the gateway never took (``workers.campaigns.reconcile_claims``).

    A campaign writes each row three times (queued, claimed, answered). The two
    updates change no indexed column, and pages are left half empty
    (``fillfactor``, PostgreSQL), so both are heap-only (HOT) updates that write
    no index. A delivery report finds its row by number and message id
    (``ix_outbound_sms_msisdn``), so the message id needs no index of its own.
    """

    __tablename__ = "outbound_sms"
    __table_args__ = (
        UniqueConstraint("campaign_id", "msisdn"),
        # A batch job's rows: one text group (language, village) of a campaign, by id.
        Index("ix_outbound_sms_batch", "campaign_id", "language", "area_id", "id"),
        {"postgresql_with": {"fillfactor": FILLFACTOR}},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(16), index=True)
    body: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(8))
    area_id: Mapped[int | None] = mapped_column(Integer)  # the recipient's village when planned
    # A campaign's row is not sent before this (its share of a spread campaign).
    not_before: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[SmsStatus] = mapped_column(str_enum(SmsStatus), default=SmsStatus.QUEUED)
    dedup_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    gateway: Mapped[str | None] = mapped_column(String(32))
    gateway_message_id: Mapped[str | None] = mapped_column(String(64))
    cost: Mapped[str | None] = mapped_column(String(32))  # as the gateway states it, "KES 0.8000"
    parts: Mapped[int | None] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(String(120))
    # The last delivery report's status as the gateway spelt it ("Success",
    # "AbsentSubscriber", or one it never documented), and its network.
    report_status: Mapped[str | None] = mapped_column(String(32))
    network_code: Mapped[str | None] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class InboundStatus(enum.StrEnum):
    RECEIVED = "received"  # stored, not yet processed
    PROCESSED = "processed"
    FAILED = "failed"  # processing raised: kept for a retry (``flask sms retry-inbound``)
    THROTTLED = "throttled"  # past the sender's SMS_MSISDN_LIMIT: kept, not acted on


class InboundSms(Base):
    """A raw SMS as the gateway posted it, stored before anything reads it.

    ``gateway_id`` (the gateway's ``id``) is unique, so a message posted twice is
    stored and processed once.
    """

    __tablename__ = "inbound_sms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(64), unique=True)
    msisdn: Mapped[str] = mapped_column(String(16), index=True)  # from, E.164
    to: Mapped[str] = mapped_column(String(32))  # our short code
    text: Mapped[str] = mapped_column(Text)
    link_id: Mapped[str | None] = mapped_column(String(64))
    gateway_date: Mapped[str | None] = mapped_column(String(32))  # as posted
    status: Mapped[InboundStatus] = mapped_column(
        str_enum(InboundStatus), default=InboundStatus.RECEIVED, index=True
    )
    outcome: Mapped[str | None] = mapped_column(String(32))  # "opt-out", "help", …
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WaitingReport(Base):
    """A delivery report held back: it has an id we have not recorded, and a
    claim to its number is young enough that its worker may still answer
    (``domain.delivery``). The campaigns' tick applies it from ``apply_after``;
    kept in the database, it survives a worker killed or Redis flushed."""

    __tablename__ = "waiting_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    msisdn: Mapped[str] = mapped_column(String(16), index=True)
    network_code: Mapped[str | None] = mapped_column(String(8))
    failure_reason: Mapped[str | None] = mapped_column(String(120))
    apply_after: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

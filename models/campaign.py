from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, str_enum, utcnow


class CampaignStatus(enum.StrEnum):
    """Life of a campaign: draft → scheduled → sending ⇄ paused → done, or cancelled."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"


class MessageTemplate(Base):
    """An approved SMS text a cadre may send from the USSD staff menu.

    ``messages`` maps a language code to the text, with placeholders such as
    ``{village}`` (``domain.sms_templates``); ``eligibility`` narrows the audience
    to the households it is for (``domain.eligibility``), None for everyone.
    """

    __tablename__ = "message_template"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    topic: Mapped[str | None] = mapped_column(String(16))
    messages: Mapped[dict[str, str]] = mapped_column(JSON)
    # A short name per language, for the cadre's USSD list.
    titles: Mapped[dict[str, str]] = mapped_column(JSON)
    variables: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    eligibility: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Campaign(Base):
    """An SMS to every subscriber of an audience, each in their language.

    ``audience`` is ``domain.campaigns.Audience`` as JSON; ``messages`` maps a
    language code to its template and ``variables`` fills the template's
    campaign-wide placeholders. Quiet hours and ``send_at`` are read in
    ``timezone`` (an IANA name). The planner walks the audience by subscriber id
    and records how far it got in ``planned_through``, so a planner that dies
    resumes where it stopped.
    """

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    messages: Mapped[dict[str, str]] = mapped_column(JSON)
    variables: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    default_language: Mapped[str] = mapped_column(String(8))
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[CampaignStatus] = mapped_column(
        str_enum(CampaignStatus), default=CampaignStatus.DRAFT, index=True
    )
    status_reason: Mapped[str | None] = mapped_column(Text)  # why it paused or stopped
    timezone: Mapped[str] = mapped_column(String(40))
    send_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None: as soon as sent
    spread_hours: Mapped[float] = mapped_column(Float, default=0.0)
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "20:00", local time
    quiet_end: Mapped[str | None] = mapped_column(String(5))  # "07:00"
    template_id: Mapped[int | None] = mapped_column(ForeignKey("message_template.id"))
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadre.id"))  # who created it
    created_via: Mapped[str] = mapped_column(String(16), default="cli")  # cli, ussd, console
    dedup_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    estimate: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the preview when sent
    planned_through: Mapped[int] = mapped_column(Integer, default=0)  # subscriber id
    planned: Mapped[int] = mapped_column(Integer, default=0)  # recipients queued so far
    planning_done: Mapped[bool] = mapped_column(Boolean, default=False)
    # When its planner or a batch last got something done: a campaign with work
    # due and no progress for CAMPAIGN_STALL_SECONDS lost its jobs (``tick``).
    progress_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Subscription(Base):
    """A subscriber's wish to get SMS about a topic (policies, health, jobs, …)."""

    __tablename__ = "subscription"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

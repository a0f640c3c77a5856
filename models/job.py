from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, str_enum, utcnow


class JobStatus(enum.StrEnum):
    """A job takes applications while ``open`` and until its closing date."""

    OPEN = "open"
    CLOSED = "closed"  # filled or withdrawn by whoever posted it


class Job(Base):
    """A job villagers can apply for by USSD.

    ``titles`` and ``requirements`` map a language code to its text (English
    is required; a missing language falls back to it). The wage is an amount
    in ``currency`` (ISO 4217) per ``wage_period`` (``day``, ``week``,
    ``month`` or ``task``). ``closes_on`` is the last day applications are
    taken, in the job's area's time zone. ``contact_msisdn`` (E.164) is the
    employer or the cadre responsible, who gets each application by SMS.
    """

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_open", "status", "closes_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    titles: Mapped[dict[str, str]] = mapped_column(JSON)
    requirements: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    employer: Mapped[str] = mapped_column(String(80))
    contact_msisdn: Mapped[str] = mapped_column(String(16))
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    wage: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    wage_period: Mapped[str] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(3))
    slots: Mapped[int] = mapped_column(Integer)
    closes_on: Mapped[date] = mapped_column(Date)
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus), default=JobStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The organisation that posted it (an NGO editor manages only its own jobs);
    # None: posted by the service (the CLI, an admin or operator).
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id"), default=None, index=True
    )


class JobApplication(Base):
    """One person's application to one job (unique per job and MSISDN).

    ``start`` is when they can start (``now``, ``week``, ``month``); ``name``
    and ``skills`` are as they typed them. Its reference, sent by SMS, is
    ``domain.jobs.reference(application)``.
    """

    __tablename__ = "job_application"
    __table_args__ = (UniqueConstraint("job_id", "msisdn"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"))
    msisdn: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(60))
    start: Mapped[str] = mapped_column(String(8))
    skills: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

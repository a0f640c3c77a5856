"""The audit log: who looked at or exported whose personal data, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, utcnow


class AuditEvent(Base):
    """One view or export of personal data by a console user.

    ``action`` names what was done (``household.view``, ``household.search``,
    ``export.csv``…); ``subject_type``/``subject_id`` what it was done to (a
    household's id, a search's area); ``detail`` anything else worth keeping
    (the search words, the number of rows). ``username`` is kept as it was, so
    the record stays readable if the account is renamed or removed. ``address``
    is the client's IP address (IPv6 at most 45 characters).
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("console_user.id", ondelete="SET NULL"), index=True
    )
    username: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    address: Mapped[str] = mapped_column(String(45), default="")

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, utcnow
from models.pin import PinProtected


class Subscriber(PinProtected, Base):
    """A phone number that has used the service: one row per E.164 MSISDN. The PIN
    guards "My household" (set by the villager on first use)."""

    __tablename__ = "subscriber"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(16), unique=True)  # E.164, at most 15 digits
    language: Mapped[str | None] = mapped_column(String(8))  # None until the caller picks one
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    # When and how: "sms" (STOP), "ussd", "gateway" (its opt-out notice or a
    # blacklisted number); kept when the subscriber opts back in.
    opted_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    opt_out_source: Mapped[str | None] = mapped_column(String(16))
    # When the wish behind the latest opt-out or opt-in was expressed (an SMS's
    # arrival): an older STOP or START processed late never overrides it.
    opt_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Home village: the household the subscriber heads, or None until known.
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    # Whether buyers may be given this number for the subscriber's produce
    # offers: None until asked (once, when they first offer), then their answer.
    shares_contact: Mapped[bool | None] = mapped_column(Boolean)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, utcnow


class UssdSession(Base):
    """A gateway session seen by the service, written on its first callback.

    The live state is in Redis; this row is what tells a session whose Redis
    state was lost (restart, expiry) from a shortcut dial whose first callback
    already carries inputs.
    """

    __tablename__ = "ussd_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(128), unique=True)
    msisdn: Mapped[str] = mapped_column(String(16), index=True)
    service_code: Mapped[str] = mapped_column(String(32))
    network_code: Mapped[str | None] = mapped_column(String(8))
    # The first callback's text (a shortcut dial's inputs): a copy of that callback
    # is a retry, not a session whose state was lost.
    first_text: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)

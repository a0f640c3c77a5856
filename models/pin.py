from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UtcDateTime


class PinProtected:
    """Columns of an account that signs in with a PIN (a cadre, a villager's
    "My household"). The PIN itself is never stored: only its argon2 hash."""

    pin_hash: Mapped[str | None] = mapped_column(String(128), default=None)
    pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    pin_locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The effect key of the last failure counted, so a repeated callback counts once.
    pin_failure_key: Mapped[str | None] = mapped_column(String(40), default=None)

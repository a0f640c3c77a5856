"""What a menu's text functions and effects see of the session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session


@dataclass
class Context:
    """One caller's session, for the duration of one callback.

    ``data`` is kept in the session between callbacks (JSON-serialisable values
    only); ``hop`` counts the inputs taken so far, so effects can name themselves
    idempotently (``f"ussd:{session_id}:{hop}"``).
    """

    session_id: str
    msisdn: str
    subscriber_id: int
    language: str
    db: Session
    gettext: Callable[[str], str]
    data: dict[str, Any] = field(default_factory=dict)
    hop: int = 0
    notice: str | None = None  # msgid shown once on the next screen

    def _(self, msgid: str) -> str:
        return self.gettext(msgid)

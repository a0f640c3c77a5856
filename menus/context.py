"""What a menu's text functions and effects see of the session."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session


@dataclass
class Context:
    """One caller's session, for the duration of one callback.

    ``data`` is kept in the session between callbacks (JSON-serialisable values
    only); ``history`` is the gateway's input history and ``hop`` the number of
    inputs taken so far, so an effect can name itself (``effect_key()``) and run
    once however often its callback arrives.
    """

    session_id: str
    msisdn: str
    subscriber_id: int
    language: str
    db: Session
    gettext: Callable[[str], str]
    data: dict[str, Any] = field(default_factory=dict)
    history: str = ""
    hop: int = 0
    notice: str | None = None  # msgid shown once on the next screen
    error: str | None = None  # an input's hint (translated), shown above the same screen
    secret: list[int] = field(default_factory=list)  # indices of inputs never to keep (PINs)
    language_chosen: str | None = None  # set when the caller picks a language
    # What a menu worked out during this callback (not kept): see ``memo``.
    cache: dict[Any, Any] = field(default_factory=dict)
    # Effects waiting for a shortcut replay to prove valid: (effect, hop, data then).
    deferred: list[tuple[Callable[[Context], None], int, dict[str, Any]]] | None = None

    def effect_key(self) -> str:
        """A name for the effect of the input being handled, unique to this session
        and the path that led to it: ``"ussd:" + 32 hex digits``."""
        path = masked("*".join(self.history.split("*")[: self.hop]), self.secret)
        digest = hashlib.blake2b(f"{self.session_id}|{self.hop}|{path}".encode(), digest_size=16)
        return "ussd:" + digest.hexdigest()

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()``, once per callback for ``key``: a screen is laid out more
        than once per callback, and its text functions may ask the same question."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def run(self, effect: Callable[[Context], None]) -> None:
        """Run ``effect`` now, or keep it for ``run_deferred`` during a replay."""
        if self.deferred is None:
            effect(self)
        else:
            self.deferred.append((effect, self.hop, dict(self.data)))

    def run_deferred(self) -> None:
        """Run the kept effects in order, each with the hop and data it saw."""
        pending, self.deferred = self.deferred or [], None
        hop, data = self.hop, self.data
        for effect, at_hop, at_data in pending:
            self.hop, self.data = at_hop, at_data
            effect(self)
        self.hop, self.data = hop, data


SECRET_MARK = "#"


def masked(text: str, secret: list[int]) -> str:
    """The input history ``text`` with the inputs at ``secret`` indices replaced
    by ``#``: what the session may keep of a history that carried a PIN."""
    if not secret or not text:
        return text
    inputs = text.split("*")
    for i in secret:
        if i < len(inputs):
            inputs[i] = SECRET_MARK
    return "*".join(inputs)

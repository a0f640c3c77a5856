"""Subscribers: one per MSISDN, with the language they chose."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from domain.phone import normalise_msisdn
from domain.sql import upsert
from domain.translation import LANGUAGES
from models import Subscriber
from models.base import utcnow


def get_or_create_subscriber(db: Session, msisdn: str) -> tuple[int, str | None]:
    """Return ``(subscriber id, language)`` for an E.164 ``msisdn``, creating the
    subscriber on first contact. One statement, safe under concurrency (an
    upsert). Does not commit."""
    stmt = upsert(db, Subscriber).values(msisdn=msisdn, opted_out=False, first_seen=utcnow())
    stmt = stmt.on_conflict_do_update(
        index_elements=[Subscriber.msisdn], set_={"msisdn": stmt.excluded.msisdn}
    ).returning(Subscriber.id, Subscriber.language)
    row = db.execute(stmt).one()
    return row.id, row.language


def reset_pin(db: Session, msisdn: str, *, region: str = "KE") -> str:
    """Clear the PIN, failures and lock of the subscriber ``msisdn`` (any form
    ``normalise_msisdn`` reads); returns the E.164 number. Raises ``InvalidMsisdn``,
    or ``LookupError`` when no one has dialled from that number. Does not commit."""
    number = normalise_msisdn(msisdn, region)
    found = db.execute(
        update(Subscriber)
        .where(Subscriber.msisdn == number)
        .values(pin_hash=None, pin_failures=0, pin_locked_until=None, pin_failure_key=None)
    )
    if not found.rowcount:  # type: ignore[attr-defined]
        raise LookupError("no subscriber with this number")
    return number


def set_language(db: Session, subscriber_id: int, language: str) -> None:
    """Store the caller's language. Raises ``ValueError`` for an unsupported one. Commits."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    db.execute(update(Subscriber).where(Subscriber.id == subscriber_id).values(language=language))
    db.commit()

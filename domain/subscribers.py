"""Subscribers: one per MSISDN, with the language they chose."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

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


def set_language(db: Session, subscriber_id: int, language: str) -> None:
    """Store the caller's language. Raises ``ValueError`` for an unsupported one. Commits."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    db.execute(update(Subscriber).where(Subscriber.id == subscriber_id).values(language=language))
    db.commit()

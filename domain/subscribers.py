"""Subscribers: one per MSISDN, with the language they chose."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from domain.translation import LANGUAGES
from models import Subscriber
from models.base import utcnow


def _insert(db: Session, model: type) -> Any:
    """``INSERT`` with ``ON CONFLICT`` for the session's database (PostgreSQL or SQLite)."""
    if db.get_bind().dialect.name == "postgresql":
        return pg_insert(model)
    return sqlite_insert(model)


def get_or_create_subscriber(db: Session, msisdn: str) -> tuple[int, str | None]:
    """Return ``(subscriber id, language)`` for an E.164 ``msisdn``, creating the
    subscriber on first contact. One statement, safe under concurrency (an
    upsert). Does not commit."""
    stmt = _insert(db, Subscriber).values(msisdn=msisdn, opted_out=False, first_seen=utcnow())
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

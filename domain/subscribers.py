"""Subscribers (one per MSISDN) and the sessions they open."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from domain.translation import LANGUAGES
from models import Subscriber, UssdSession
from models.base import utcnow

MAX_FIRST_TEXT = 200


class SessionStart(NamedTuple):
    subscriber_id: int
    language: str | None  # None: the caller has not picked one yet
    lost: bool  # this session was recorded before: its state in Redis was lost


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


def start_ussd_session(
    db: Session,
    *,
    session_id: str,
    msisdn: str,
    service_code: str,
    network_code: str | None,
    text: str,
) -> SessionStart:
    """Record the first callback of a session (for which Redis holds no state).

    Returns the caller's subscriber id and language, and whether the session's
    state was lost: it was recorded before by a callback with another ``text``
    (a copy of the first callback, racing this one, is not a loss). Two
    statements and a commit on the first hop of every session.
    """
    subscriber_id, language = get_or_create_subscriber(db, msisdn)
    stmt = (
        _insert(db, UssdSession)
        .values(
            session_id=session_id,
            msisdn=msisdn,
            service_code=service_code,
            network_code=network_code,
            first_text=text[:MAX_FIRST_TEXT],
            started_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[UssdSession.session_id])
        .returning(UssdSession.id)
    )
    inserted = db.execute(stmt).first()
    lost = False
    if inserted is None:
        first = db.scalar(
            select(UssdSession.first_text).where(UssdSession.session_id == session_id)
        )
        lost = first != text[:MAX_FIRST_TEXT]
    db.commit()
    return SessionStart(subscriber_id, language, lost)


def set_language(db: Session, subscriber_id: int, language: str) -> None:
    """Store the caller's language. Raises ``ValueError`` for an unsupported one. Commits."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    db.execute(update(Subscriber).where(Subscriber.id == subscriber_id).values(language=language))
    db.commit()

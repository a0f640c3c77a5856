"""Subscribers (one per MSISDN) and the sessions they open."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.translation import LANGUAGES
from models import Subscriber, UssdSession


class SessionStart(NamedTuple):
    subscriber_id: int
    language: str | None  # None: the caller has not picked one yet
    seen_before: bool  # this sessionId was already recorded: its Redis state was lost


def get_or_create_subscriber(db: Session, msisdn: str) -> Subscriber:
    """Return the subscriber for an E.164 ``msisdn``, creating it on first contact.

    Safe under concurrency: a duplicate insert by a racing request is caught
    and the winner's row returned.
    """
    sub = db.scalar(select(Subscriber).where(Subscriber.msisdn == msisdn))
    if sub is not None:
        return sub
    try:
        with db.begin_nested():
            sub = Subscriber(msisdn=msisdn)
            db.add(sub)
    except IntegrityError:
        sub = db.scalar(select(Subscriber).where(Subscriber.msisdn == msisdn))
        assert sub is not None
    return sub


def start_ussd_session(
    db: Session, *, session_id: str, msisdn: str, service_code: str, network_code: str | None
) -> SessionStart:
    """Record the first callback of a session (for which Redis holds no state).

    Returns the caller's subscriber id and language, and whether the session was
    recorded before, which means its state in Redis was lost. Commits.
    """
    sub = get_or_create_subscriber(db, msisdn)
    seen = db.scalar(select(UssdSession.id).where(UssdSession.session_id == session_id))
    if seen is None:
        try:
            with db.begin_nested():
                db.add(
                    UssdSession(
                        session_id=session_id,
                        msisdn=msisdn,
                        service_code=service_code,
                        network_code=network_code,
                    )
                )
        except IntegrityError:
            seen = 0  # a concurrent copy of this first callback recorded it
    db.commit()
    return SessionStart(sub.id, sub.language, seen is not None)


def set_language(db: Session, subscriber_id: int, language: str) -> None:
    """Store the caller's language. Raises ``ValueError`` for an unsupported one. Commits."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    db.execute(update(Subscriber).where(Subscriber.id == subscriber_id).values(language=language))
    db.commit()

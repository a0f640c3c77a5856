"""Subscribers: one per MSISDN, with the language they chose, their opt-out and
the topics they get SMS about."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from domain.phone import normalise_msisdn
from domain.sql import upsert
from domain.translation import LANGUAGES
from models import Subscriber, Subscription
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


#: Topics a subscriber can ask SMS about: the content topics, and jobs.
TOPICS = ("policies", "health", "education", "jobs")

#: Where an opt-out came from.
OPT_OUT_SOURCES = ("sms", "ussd", "gateway", "blacklist", "cli")


def opt_out(db: Session, msisdn: str, source: str, *, at: datetime | None = None) -> bool:
    """Opt the E.164 ``msisdn`` out of every campaign at once, creating its
    subscriber row if it has none (an opt-out is kept even for a number we have
    never heard from). ``source`` is one of ``OPT_OUT_SOURCES``; ``at`` is when
    the wish was expressed (an SMS's arrival; default now): a wish older than
    the last change (a START sent after it) is ignored. Returns whether the
    number was opted in before and now is not. Campaigns check this flag when
    each message is sent, so messages already queued are skipped too. Does not
    commit."""
    if source not in OPT_OUT_SOURCES:
        raise ValueError(f"unknown opt-out source {source!r}")
    return _change_opt(db, msisdn, True, at, opted_out_at=utcnow(), opt_out_source=source)


def opt_in(db: Session, msisdn: str, *, at: datetime | None = None) -> bool:
    """Let the E.164 ``msisdn`` get campaigns again (START); ``at`` as for
    ``opt_out``: a START older than the last change (a later STOP) is ignored.
    Returns whether it had opted out and now has not. When and how it opted out
    are kept. Does not commit."""
    return _change_opt(db, msisdn, False, at)


def _change_opt(db: Session, msisdn: str, out: bool, at: datetime | None, **values: object) -> bool:
    at = at or utcnow()
    get_or_create_subscriber(db, msisdn)
    changed = db.execute(
        update(Subscriber)
        .where(
            Subscriber.msisdn == msisdn,
            Subscriber.opted_out.is_(not out),
            or_(Subscriber.opt_changed_at.is_(None), Subscriber.opt_changed_at <= at),
        )
        .values(opted_out=out, opt_changed_at=at, **values)
    )
    return bool(changed.rowcount)  # type: ignore[attr-defined]


def superseded(db: Session, msisdn: str, at: datetime) -> bool:
    """Whether the number's opt-out or opt-in changed after ``at`` (an older
    STOP or START arriving late must not undo it)."""
    changed = db.scalar(select(Subscriber.opt_changed_at).where(Subscriber.msisdn == msisdn))
    return changed is not None and changed > at


def is_opted_out(db: Session, subscriber_id: int) -> bool:
    return bool(db.scalar(select(Subscriber.opted_out).where(Subscriber.id == subscriber_id)))


def topics_of(db: Session, subscriber_id: int) -> set[str]:
    """The topics ``subscriber_id`` gets SMS about."""
    return set(
        db.scalars(select(Subscription.topic).where(Subscription.subscriber_id == subscriber_id))
    )


def set_topic(db: Session, subscriber_id: int, topic: str, wanted: bool) -> None:
    """Subscribe ``subscriber_id`` to ``topic`` (one of ``TOPICS``) or drop it;
    idempotent. Raises ``ValueError`` for an unknown topic. Does not commit."""
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}")
    if wanted:
        stmt = upsert(db, Subscription).values(
            subscriber_id=subscriber_id, topic=topic, created_at=utcnow()
        )
        db.execute(stmt.on_conflict_do_nothing())
    else:
        db.execute(
            delete(Subscription).where(
                Subscription.subscriber_id == subscriber_id, Subscription.topic == topic
            )
        )


def set_home_area(db: Session, msisdn: str, area_id: int) -> None:
    """Record ``area_id`` (a village) as the home of the E.164 ``msisdn``, creating
    its subscriber row: a household head becomes reachable by area-targeted
    campaigns once surveyed. Does not commit."""
    get_or_create_subscriber(db, msisdn)
    db.execute(update(Subscriber).where(Subscriber.msisdn == msisdn).values(area_id=area_id))

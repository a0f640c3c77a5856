"""The audit log of personal data: who viewed or exported whose, when, from where.

``record`` stores one ``AuditEvent`` and writes the same event, in words, to the
``ngazi.audit`` logger (``otieno viewed household 12``), so the trail can also be
shipped to storage kept apart from the database. ``events`` reads the log for
the console's audit page: filtered, newest first, a page at a time.

Actions are short dotted names; ``ACTIONS`` lists those the console writes and
how each reads in words (from ``detail``), for the log line and the audit page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from models import AuditEvent, ConsoleUser
from models.base import utcnow

log = logging.getLogger("ngazi.audit")

#: Action → how an event reads after the username (``str.format`` over
#: ``subject_id`` and ``detail``; a missing key falls back to the plain form).
ACTIONS: Mapping[str, str] = {
    "household.view": "viewed household {subject_id} ({surveys} surveys, number {msisdn})",
    "household.search": "searched households for {words}: {rows} shown (page {page})",
    "job.applicants": "viewed {rows} applicants of job {subject_id} ({format}, numbers {numbers})",
    "market.offers": "exported {rows} offers ({format}, numbers masked)",
    "audit.export": "exported {rows} audit events ({format})",
    "export.analytics": "exported the {table} table of area {subject_id} ({rows} rows)",
    # From the command line (domain.privacy): detail holds counts per table.
    "privacy.export": "exported everything held about {subject_id}",
    "privacy.erase": "erased {subject_id}",
}
PAGE_SIZE = 50
#: The deepest page of the audit page (OFFSET stays cheap on the created_at index).
MAX_PAGE = 200
#: The most events one CSV holds (the newest matching).
EXPORT_LIMIT = 10_000
_LIMITS = {"username": 40, "action": 40, "subject_type": 20, "subject_id": 40, "address": 45}


def describe(action: str, subject_type: str, subject_id: str, detail: Mapping[str, Any]) -> str:
    """The event in words, without the username: ``"viewed household 12 (…)"``."""
    template = ACTIONS.get(action)
    if template is not None:
        try:
            return template.format(subject_id=subject_id, **detail)
        except (KeyError, IndexError, ValueError):
            pass
    return f"{action} {subject_type} {subject_id}".rstrip()


def record(
    db: Session,
    *,
    user: ConsoleUser,
    action: str,
    subject_type: str,
    subject_id: str | int,
    detail: Mapping[str, Any] | None = None,
    address: str | None = "",
) -> AuditEvent:
    """Store that ``user`` did ``action`` to ``subject_type``/``subject_id``, and log it.

    ``detail`` is JSON-safe context (the search words, the rows shown); ``address``
    the client's IP address. Texts longer than their columns are cut. Commits, so
    the event is on record before the personal data leaves the server: call it
    before rendering the page or the file (a failure then refuses the view).
    """
    fields = {
        "username": user.username,
        "action": action,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "address": address or "",
    }
    cut = {name: value[: _LIMITS[name]] for name, value in fields.items()}
    event = AuditEvent(created_at=utcnow(), user_id=user.id, detail=dict(detail or {}), **cut)
    db.add(event)
    db.commit()
    log.info(
        "%s %s",
        cut["username"],
        describe(action, cut["subject_type"], cut["subject_id"], event.detail),
    )
    return event


@dataclass(frozen=True)
class Filters:
    """What the audit page asks; None (or empty) is "any". ``until`` is exclusive."""

    username: str | None = None
    action: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class EventPage:
    events: Sequence[AuditEvent]
    page: int
    has_next: bool


def _query(filters: Filters) -> Select[AuditEvent]:
    query = select(AuditEvent)
    if filters.username:
        query = query.where(AuditEvent.username == filters.username.strip().lower())
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.subject_type:
        query = query.where(AuditEvent.subject_type == filters.subject_type)
    if filters.subject_id:
        query = query.where(AuditEvent.subject_id == filters.subject_id)
    if filters.since is not None:
        query = query.where(AuditEvent.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEvent.created_at < filters.until)
    return query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


def events(db: Session, filters: Filters, page: int = 1) -> EventPage:
    """One page (``PAGE_SIZE``) of the events ``filters`` select, newest first.

    ``page`` is clamped to 1..``MAX_PAGE``. There is no total: the log grows
    without end, and counting it would scan it; one row past the page tells
    whether there is a next one.
    """
    page = min(max(page, 1), MAX_PAGE)
    query = _query(filters).limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
    found = db.scalars(query).all()
    return EventPage(found[:PAGE_SIZE], page, len(found) > PAGE_SIZE and page < MAX_PAGE)


def export(db: Session, filters: Filters) -> Sequence[AuditEvent]:
    """The newest ``EXPORT_LIMIT`` events ``filters`` select, newest first (a CSV)."""
    return db.scalars(_query(filters).limit(EXPORT_LIMIT)).all()

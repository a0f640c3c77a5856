"""``/console/audit``: the audit log of views and exports of personal data (admins only).

Filters: ``user`` (a username), ``action``, ``subject_type`` and ``subject_id``,
``since`` and ``until`` (days, ``YYYY-MM-DD``, UTC, both included); newest first,
``domain.audit.PAGE_SIZE`` a page; ``?format=csv`` downloads the newest
``EXPORT_LIMIT`` matching events, and that download is itself recorded.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from flask import abort, make_response, render_template, request
from flask.typing import ResponseReturnValue

from app.console import bp, row_id
from app.console.auth import current_console_user
from app.console.export import csv_response, wants_csv
from app.db import db_session
from app.webhook_auth import request_address
from domain import audit
from models import AuditEvent, ConsoleRole

#: Query argument → (``Filters`` field, longest value: the column's length).
TEXT_FILTERS = {
    "user": ("username", 40),
    "action": ("action", 40),
    "subject_type": ("subject_type", 20),
    "subject_id": ("subject_id", 40),
}


def _day(name: str, errors: list[str]) -> datetime | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        errors.append(f"{name.capitalize()}: a day is written YYYY-MM-DD (e.g. 2026-03-31).")
        return None


def _filters() -> tuple[audit.Filters, dict[str, str], list[str]]:
    """The filters asked, the values to show back in the form, and what was wrong."""
    errors: list[str] = []
    values: dict[str, str] = {}
    fields: dict[str, str | None] = {}
    for arg, (field, longest) in TEXT_FILTERS.items():
        text = request.args.get(arg, "").strip()
        if len(text) > longest or not text.isprintable():
            errors.append(
                f"{arg.replace('_', ' ').capitalize()}: at most {longest} printable characters."
            )
            text = ""
        values[arg] = text
        fields[field] = text or None
    since, until = _day("since", errors), _day("until", errors)
    values["since"] = f"{since:%Y-%m-%d}" if since else ""
    values["until"] = f"{until:%Y-%m-%d}" if until else ""
    if until is not None:
        # The day given is included; the last day a date holds has no next day.
        until = until + timedelta(days=1) if until.date() < date.max else None
    return audit.Filters(**fields, since=since, until=until), values, errors


def _what(event: AuditEvent) -> str:
    return audit.describe(event.action, event.subject_type, event.subject_id, event.detail or {})


@bp.get("/audit")
def audit_log() -> ResponseReturnValue:
    """The audit log, filtered
    (``?user=&action=&subject_type=&subject_id=&since=&until=&page=&format=csv``)."""
    db = db_session()
    user = current_console_user()
    if user.role is not ConsoleRole.ADMIN:
        abort(
            make_response(
                render_template(
                    "console/error.html",
                    title="Not allowed",
                    message="Only administrators may read the audit log.",
                ),
                403,
            )
        )
    filters, values, errors = _filters()
    if wants_csv() and not errors:
        found = audit.export(db, filters)
        audit.record(
            db,
            user=user,
            action="audit.export",
            subject_type="audit",
            subject_id="",
            detail={"rows": len(found), "format": "csv", "filters": values},
            address=request_address(),
        )
        return csv_response(
            "audit",
            ["created_utc", "username", "action", "what", "subject_type", "subject_id"]
            + ["address", "detail"],
            [
                [f"{e.created_at:%Y-%m-%d %H:%M:%S}", e.username, e.action, _what(e)]
                + [e.subject_type, e.subject_id, e.address, json.dumps(e.detail, sort_keys=True)]
                for e in found
            ],
        )
    shown = audit.events(db, filters, row_id(request.args.get("page")) or 1)
    return render_template(
        "console/audit.html",
        events=[(e, _what(e)) for e in shown.events],
        page=shown.page,
        has_next=shown.has_next,
        values=values,
        errors=errors,
        actions=sorted(audit.ACTIONS),
        query={k: v for k, v in values.items() if v},
    ), 400 if errors else 200

"""``/console/households``: find a household by area and head's name, and open its
record (every survey, its classification, what changed).

Supervisors see the households of their areas only: another household is ``404``
(not ``403``: whether it exists is not theirs to know) and no search finds it.
Every search that lists households and every view of a household's page is
written to the audit log (``domain.audit``) before the page is sent. The head's
number is masked in the results and shown in full on the household's page only.
"""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue

from app.console import bp, row_id
from app.console.auth import current_console_user
from app.db import db_session, read_session
from app.webhook_auth import request_address
from domain import audit
from domain.console_users import visible_areas
from domain.household_search import (
    MAX_NAME,
    ORDERS,
    PAGE_SIZE,
    Results,
    SearchError,
    area_picker,
    clean_name,
    household_record,
    search,
)
from models import ConsoleRole


def _printable(text: str) -> str:
    """``text`` fit to show back in the form: no control characters, not too long."""
    return "".join(c for c in text if c.isprintable())[: MAX_NAME + 1]


@bp.get("/households")
def household_search() -> ResponseReturnValue:
    """The search form and, once a name or an area is given, a page of results:
    ``?q=<part of the name>&area=<id>&order=recent|name&page=N``."""
    db = read_session()
    user = current_console_user()
    visible = visible_areas(db_session(), user)  # who may see what: the primary's word
    typed = request.args.get("q", "")
    order = request.args.get("order", "recent")
    order = order if order in ORDERS else "recent"
    page = row_id(request.args.get("page")) or 1
    picker = area_picker(db, visible, row_id(request.args.get("area")))
    error, status, results = None, 200, None
    try:
        name = clean_name(typed)
    except SearchError as exc:
        name, error, status = "", str(exc), 400
    if error is None and (name or picker.chosen is not None):
        try:
            results = search(
                db, name=name, area_id=picker.chosen, visible=visible, order=order, page=page
            )
        except SearchError as exc:
            error = str(exc)
    if results is not None and results.rows:
        _audit_search(user, name, picker.path, order, results)
    return render_template(
        "console/households.html",
        typed=_printable(typed),
        order=order,
        picker=picker,
        results=results,
        error=error,
        page_size=PAGE_SIZE,
        limited=visible is not None,
    ), status


def _audit_search(
    user: Any, name: str, path: list[tuple[int, str]], order: str, found: Results
) -> None:
    place = " / ".join(n for _, n in path)
    words = ", ".join(
        part for part in (f'name "{name}"' if name else "", f"in {place}" if place else "") if part
    )
    audit.record(
        db_session(),
        user=user,
        action="household.search",
        subject_type="search",
        subject_id=path[-1][0] if path else "",
        detail={
            "words": words,
            "name": name,
            "area": path[-1][0] if path else None,
            "order": order,
            "page": found.page,
            "rows": len(found.rows),
            "households": [r.household_id for r in found.rows],
        },
        address=request_address(),
    )


@bp.get("/households/<household_id>")
def household_page(household_id: str) -> ResponseReturnValue:
    """A household: who and where, the head's number in full, and every survey."""
    user = current_console_user()
    number = row_id(household_id)
    visible = visible_areas(db_session(), user)
    record = household_record(read_session(), number, visible) if number else None
    if record is None:
        abort(404)
    audit.record(
        db_session(),
        user=user,
        action="household.view",
        subject_type="household",
        subject_id=record.id,
        detail={"surveys": len(record.surveys), "msisdn": "full" if record.msisdn else "none"},
        address=request_address(),
    )
    return render_template(
        "console/household.html",
        record=record,
        latest=record.surveys[-1] if record.surveys else None,
        is_admin=user.role is ConsoleRole.ADMIN,
    )

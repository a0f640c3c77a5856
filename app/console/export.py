"""What the console's data pages share: masked phone numbers, CSV downloads and
the audit log of views of personal data."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response, request

from domain.phone import mask_msisdn as mask_msisdn  # re-exported: the pages import it here
from models.base import utcnow

#: Views of personal data (who looked at whose): kept apart from ``ngazi.console``.
#: Pages write through ``domain.audit.record``, which stores the event and logs here.
audit = logging.getLogger("ngazi.audit")

#: A spreadsheet takes a cell starting with one of these for a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def wants_csv() -> bool:
    return request.args.get("format") == "csv"


def csv_cell(value: object) -> str:
    """``value`` as text, with a leading ``'`` when a spreadsheet would run it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    """A ``text/csv`` download ``ngazi-<name>-<YYYYMMDD>.csv`` (UTF-8, CRLF lines)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    filename = f"ngazi-{name}-{utcnow():%Y%m%d}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def age_text(seconds: float) -> str:
    """``"45 min"``, ``"5 h"``, ``"3 d"``: how long ago, roughly."""
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


def pairs(rows: Sequence[Any]) -> dict[Any, Any]:
    """``{first: second}`` of two-column rows (a ``GROUP BY`` count, a name by id)."""
    return {row[0]: row[1] for row in rows}

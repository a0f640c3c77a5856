"""Delivery reports that had to wait (see ``domain.delivery``)."""

from __future__ import annotations

from typing import Any

from app.db import db_session
from domain import delivery
from workers import job


@job
def apply_report_later(fields: dict[str, Any]) -> str:
    """Apply a delivery report again, once the claim it may belong to has had
    time to be answered by its worker (the report's fields as ``Report``
    holds them). Returns what ``apply_report`` returned."""
    db = db_session()
    outcome = delivery.apply_report(db, delivery.Report(**fields))
    db.commit()
    return outcome

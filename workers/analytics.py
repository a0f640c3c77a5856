"""Keep the console's area figures current as surveys complete."""

from __future__ import annotations

from app.db import db_session
from domain import analytics
from workers import job


@job
def refresh_villages(round_id: int, village_ids: list[int]) -> int:
    """Recompute ``village_ids``' figures in ``round_id`` and the areas above
    them (``domain.analytics.refresh_villages``). Safe to run twice: it replaces
    what is stored with what the surveys say. Returns the rows written."""
    return analytics.refresh_villages(db_session(), round_id, village_ids)

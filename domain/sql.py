"""SQL that differs between the two databases we run on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def upsert(db: Session, model: type) -> Any:
    """``INSERT`` that takes ``ON CONFLICT`` for the session's database
    (PostgreSQL or SQLite; both spell it the same way)."""
    if db.get_bind().dialect.name == "postgresql":
        return pg_insert(model)
    return sqlite_insert(model)

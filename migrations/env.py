"""Alembic environment: runs against ``sqlalchemy.url`` set by ``app.db.alembic_config``,
or ``DATABASE_URL`` when run as ``alembic upgrade head`` from the shell."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import engine_from_config, pool

from models import Base
from models.base import UtcDateTime, include_in_comparison

config = context.config
url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
if not url:
    raise SystemExit("set DATABASE_URL")
config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Migrations stay plain SQLAlchemy: the UTC wrapper is Python-side only.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copy
            compare_type=True,
            render_item=render_item,
            include_object=include_in_comparison,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()

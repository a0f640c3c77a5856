"""Alembic environment: runs against ``sqlalchemy.url`` set by ``app.db.alembic_config``,
or ``DATABASE_URL`` when run as ``alembic upgrade head`` from the shell."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import engine_from_config, pool

from models import Base
from models.base import UtcDateTime

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


# Indexes a migration makes on PostgreSQL only, with SQL the models cannot
# express portably (0007's trigram index on household names).
POSTGRESQL_ONLY_INDEXES = frozenset({"ix_household_head_name_trgm"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (type_ == "index" and reflected and name in POSTGRESQL_ONLY_INDEXES)


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
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()

"""Migrations match the models; demo data loads twice without duplicates."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import create_engine, func, select

from app.db import db_session
from domain import demo
from models import Area, Article, ArticleTranslation, Base, Category
from models.base import include_in_comparison


def test_migrations_produce_the_models_schema(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(database_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_in_comparison}
        )
        assert compare_metadata(ctx, Base.metadata) == []
    engine.dispose()


def test_demo_load_is_idempotent_and_complete(app: Flask) -> None:
    with app.app_context():
        db = db_session()

        def counts() -> tuple[int, ...]:
            return tuple(
                db.scalar(select(func.count()).select_from(m))  # type: ignore[misc]
                for m in (Area, Category, Article, ArticleTranslation)
            )

        before = counts()
        demo.load_areas(db)
        demo.load_content(db)
        assert counts() == before
        areas, categories, articles, translations = before
        assert areas >= 30 and categories >= 11 and articles >= 40
        assert translations == 4 * articles  # every article in en, sw, fr and zh

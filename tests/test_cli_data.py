"""``flask areas load`` and ``flask content load``: a deployment's own data."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import delete, select

from app.db import db_session
from models import Area, Article, ArticleTranslation, Category

AREAS = """country: KE
provinces:
  - name: Rift Valley
    counties:
      - name: Nakuru
        villages: [Njoro, Molo]
"""
CONTENT = """policies:
  - slug: ngazi-test-loans
    name: {en: Loans, sw: Mikopo, fr: Prêts, zh: 贷款}
    articles:
      - slug: youth-fund
        title: {en: Youth fund, sw: Mfuko wa vijana, fr: Fonds jeunesse, zh: 青年基金}
        body: {en: Loans for youth groups., sw: Mikopo kwa vikundi., fr: Des prêts., zh: 贷款。}
"""


def test_a_deployment_loads_its_own_areas_and_content(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    areas, content = tmp_path / "areas.yaml", tmp_path / "content.yaml"
    areas.write_text(AREAS)
    content.write_text(CONTENT)
    try:
        result = runner.invoke(args=["areas", "load", str(areas)])
        assert (result.exit_code, result.output) == (0, f"4 areas in {areas}\n")
        assert runner.invoke(args=["areas", "load", str(areas)]).exit_code == 0  # again: same
        result = runner.invoke(args=["content", "load", str(content)])
        assert (result.exit_code, result.output) == (0, f"1 articles in {content}\n")
        with app.app_context():
            db = db_session()
            njoro = db.scalars(select(Area).where(Area.name == "Njoro")).one()
            assert njoro.parent is not None and njoro.parent.name == "Nakuru"
            assert len(db.scalars(select(Area).where(Area.name == "Molo")).all()) == 1
            title = db.scalar(
                select(ArticleTranslation.title)
                .join(Article)
                .where(Article.slug == "youth-fund", ArticleTranslation.language == "sw")
            )
            assert title == "Mfuko wa vijana"
        bad = tmp_path / "bad.yaml"
        bad.write_text("provinces: [{name: X}]\n")
        result = runner.invoke(args=["areas", "load", str(bad)])
        assert result.exit_code == 1 and "not an areas file" in result.output
    finally:
        with app.app_context():
            db = db_session()
            db.execute(delete(Category).where(Category.slug == "ngazi-test-loans"))
            for name in ("Njoro", "Molo", "Nakuru", "Rift Valley"):
                db.execute(delete(Area).where(Area.name == name))
            db.commit()

"""The console's article form: category, slug, source, and a title and text per
language. The form only carries what was typed; every rule (English required,
lengths, slugs, control characters) is ``domain.content_admin.check_draft``'s,
whose ``ContentError`` the page shows next to the fields it names."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from app.console import MAX_ID
from domain.content_admin import Draft
from domain.translation import LANGUAGES
from models import Article, Category, CategoryTranslation, Topic

#: How the editor names each language (the console is in English).
LANGUAGE_NAMES = {"en": "English", "sw": "Kiswahili", "fr": "French", "zh": "Chinese"}
TOPIC_NAMES = {
    Topic.POLICIES: "Policies & benefits",
    Topic.HEALTH: "Health advice",
    Topic.EDUCATION: "Education",
}


class ArticleForm(FlaskForm):  # type: ignore[misc]
    category = SelectField("Category", coerce=int, choices=[], validate_choice=False)
    slug = StringField("Slug (a-z, 0-9 and hyphens, unique in the category)")
    source = StringField("Source (who says so: a publisher or a web address)")
    title_en = StringField("English title (required)")
    body_en = TextAreaField("English text (required)")
    title_sw = StringField("Kiswahili title")
    body_sw = TextAreaField("Kiswahili text")
    title_fr = StringField("French title")
    body_fr = TextAreaField("French text")
    title_zh = StringField("Chinese title")
    body_zh = TextAreaField("Chinese text")
    base_revision = HiddenField()

    def fill_choices(self, db: Session) -> None:
        """Every category as "Topic / Category" (English names), in menu order."""
        self.category.choices = [SelectChoice(i, label) for i, label in category_choices(db)]

    def fill_from(self, article: Article, base_revision: int) -> None:
        self.category.data = article.category_id
        self.slug.data = article.slug
        self.source.data = article.source
        by_lang = {t.language: t for t in article.translations}
        for code in LANGUAGES:
            row = by_lang.get(code)
            getattr(self, f"title_{code}").data = row.title if row else ""
            getattr(self, f"body_{code}").data = row.body if row else ""
        self.base_revision.data = str(base_revision)

    def texts(self) -> dict[str, tuple[str, str]]:
        """Language → (title, body) as typed (``None`` fields as empty)."""
        return {
            code: (
                getattr(self, f"title_{code}").data or "",
                getattr(self, f"body_{code}").data or "",
            )
            for code in LANGUAGES
        }

    def draft(self) -> Draft:
        data = self.category.data
        # Not a row id (a tampered form): no category, refused as "choose one".
        category = data if isinstance(data, int) and 0 < data <= MAX_ID else 0
        return Draft(category, self.slug.data or "", self.source.data or "", self.texts())

    def base(self) -> int | None:
        """The revision the form was opened at; None when the field was tampered with."""
        text = self.base_revision.data or ""
        return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None

    def show_problems(self, problems: dict[str, str]) -> str | None:
        """Put each problem under its field; return what belongs to no field."""
        general = []
        for name, message in problems.items():
            field: Any = getattr(self, name, None) if name else None
            if field is None:
                general.append(message)
            else:
                field.errors = [*field.errors, message]
        return " ".join(general) or None


def category_choices(db: Session) -> list[tuple[int, str]]:
    rows = db.execute(
        select(Category.id, Category.topic, CategoryTranslation.name)
        .outerjoin(
            CategoryTranslation,
            (CategoryTranslation.category_id == Category.id)
            & (CategoryTranslation.language == "en"),
        )
        .order_by(Category.topic, Category.position, Category.id)
    ).all()
    order = list(Topic)
    rows = sorted(rows, key=lambda r: order.index(r.topic))
    return [(r.id, f"{TOPIC_NAMES[r.topic]} / {r.name or '(unnamed)'}") for r in rows]

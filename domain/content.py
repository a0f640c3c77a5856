"""Policies & benefits, health advice and education: categories and articles.

Reads are cached in-process for ``CONTENT_CACHE_SECONDS`` (set with
``configure_cache``): every USSD hop in a list reads them, and they change a few
times a day. A language without a translation falls back to English.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar, cast

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Article, ArticleTranslation, Category, CategoryTranslation, Topic

FALLBACK_LANGUAGE = "en"

F = TypeVar("F", bound=Callable[..., Any])

_cache: TTLCache[tuple[object, ...], object] = TTLCache(maxsize=4096, ttl=30)


class ArticleText(NamedTuple):
    id: int
    title: str
    body: str


def configure_cache(seconds: int) -> None:
    """Set how long reads stay cached; 0 turns the cache off. Clears it."""
    global _cache
    _cache = TTLCache(maxsize=4096, ttl=seconds) if seconds > 0 else TTLCache(maxsize=1, ttl=0)


def clear_cache() -> None:
    _cache.clear()


def _cached(func: F) -> F:
    """Keep ``func(db, *args)``'s result in the content cache, keyed by its name and
    ``args`` (the session is not part of the key); None is not kept."""

    @functools.wraps(func)
    def wrapper(db: Session, *args: Any) -> Any:
        key = (func.__name__, *args)
        hit = _cache.get(key)
        if hit is not None:
            return hit
        result = func(db, *args)
        if result is not None:
            _cache[key] = result
        return result

    return cast(F, wrapper)


def _pick(translations: dict[str, str], language: str) -> str:
    return translations.get(language) or translations.get(FALLBACK_LANGUAGE) or ""


def _labels(rows: Sequence[Any], language: str) -> list[tuple[int, str]]:
    """``[(id, label)]`` in row order from ``(id, language, label)`` rows."""
    by_id: dict[int, dict[str, str]] = {}
    for row_id, lang, label in rows:
        by_id.setdefault(row_id, {})[lang] = label
    return [(row_id, _pick(labels, language)) for row_id, labels in by_id.items()]


@_cached
def list_categories(db: Session, topic: Topic, language: str) -> list[tuple[int, str]]:
    """Categories of ``topic`` that have a published article, in display order,
    as ``[(category id, name in language)]``."""
    rows = db.execute(
        select(Category.id, CategoryTranslation.language, CategoryTranslation.name)
        .join(CategoryTranslation)
        .where(Category.topic == topic)
        .where(Category.articles.any(Article.published))
        .order_by(Category.position, Category.id)
    ).all()
    return _labels(rows, language)


@_cached
def category_name(db: Session, category_id: int, language: str) -> str:
    rows = db.execute(
        select(CategoryTranslation.language, CategoryTranslation.name).where(
            CategoryTranslation.category_id == category_id
        )
    ).all()
    return _pick({lang: name for lang, name in rows}, language)


@_cached
def list_articles(db: Session, category_id: int, language: str) -> list[tuple[int, str]]:
    """Published articles of a category as ``[(article id, title in language)]``."""
    rows = db.execute(
        select(Article.id, ArticleTranslation.language, ArticleTranslation.title)
        .join(ArticleTranslation)
        .where(Article.category_id == category_id, Article.published)
        .order_by(Article.position, Article.id)
    ).all()
    return _labels(rows, language)


@_cached
def get_article(db: Session, article_id: int, language: str) -> ArticleText | None:
    """The article's title and body in ``language`` (English if untranslated);
    None when it does not exist or is unpublished."""
    rows = db.execute(
        select(ArticleTranslation.language, ArticleTranslation.title, ArticleTranslation.body)
        .join(Article)
        .where(Article.id == article_id, Article.published)
    ).all()
    if not rows:
        return None
    by_lang = {lang: (title, body) for lang, title, body in rows}
    title, body = (
        by_lang.get(language) or by_lang.get(FALLBACK_LANGUAGE) or next(iter(by_lang.values()))
    )
    return ArticleText(article_id, title, body)


@_cached
def programme_rules(db: Session) -> tuple[tuple[int, dict[str, Any]], ...]:
    """Published articles that carry an eligibility rule (programmes), in display
    order, as ``((article id, rule), …)``."""
    rows = db.execute(
        select(Article.id, Article.eligibility)
        .join(Category)
        .where(Article.published, Article.eligibility.is_not(None))
        .order_by(Category.position, Article.position, Article.id)
    ).all()
    return tuple((row.id, row.eligibility) for row in rows if row.eligibility)

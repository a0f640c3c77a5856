from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UtcDateTime, str_enum, utcnow


class Topic(enum.StrEnum):
    """The main-menu entries whose screens are categories and articles."""

    POLICIES = "policies"
    HEALTH = "health"
    EDUCATION = "education"


class Category(Base):
    __tablename__ = "category"
    __table_args__ = (UniqueConstraint("topic", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[Topic] = mapped_column(str_enum(Topic), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)

    translations: Mapped[list[CategoryTranslation]] = relationship(
        back_populates="category", cascade="all, delete-orphan"
    )
    articles: Mapped[list[Article]] = relationship(
        back_populates="category", cascade="all, delete-orphan"
    )


class CategoryTranslation(Base):
    __tablename__ = "category_translation"
    __table_args__ = (UniqueConstraint("category_id", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(80))

    category: Mapped[Category] = relationship(back_populates="translations")


class Article(Base):
    __tablename__ = "article"
    __table_args__ = (UniqueConstraint("category_id", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("category.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(255), default="")  # who says so: publisher or URL
    # For a programme: which households qualify, as a rule over their latest survey's
    # classification (``domain.eligibility``); None for an article that is not one.
    eligibility: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Whose article: an NGO editor manages only its organisation's; None is the
    # service's own (managed by admins and operators).
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id"), default=None, index=True
    )
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    category: Mapped[Category] = relationship(back_populates="articles")
    translations: Mapped[list[ArticleTranslation]] = relationship(
        back_populates="article", cascade="all, delete-orphan"
    )


class ArticleTranslation(Base):
    __tablename__ = "article_translation"
    __table_args__ = (UniqueConstraint("article_id", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)

    article: Mapped[Article] = relationship(back_populates="translations")


class ArticleRevision(Base):
    """One change to an article, kept for good: who, when, what (``action``:
    ``created``, ``edited``, ``published``, ``unpublished``), and the article as
    it stood after the change (``snapshot``: its fields and every translation).

    ``number`` counts an article's revisions from 1. ``user_id`` is None for a
    change made outside the console (the demo loader, a CLI)."""

    __tablename__ = "article_revision"
    __table_args__ = (UniqueConstraint("article_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("console_user.id", ondelete="SET NULL"), default=None
    )
    username: Mapped[str] = mapped_column(String(40), default="")  # kept if the user goes
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

"""SQLAlchemy 2 models. Nothing here imports Flask.

Schema changes go through Alembic (``migrations/``); ``Base.metadata`` is what
``alembic revision --autogenerate`` compares against.
"""

from __future__ import annotations

from models.area import Area, AreaLevel
from models.base import Base
from models.content import Article, ArticleTranslation, Category, CategoryTranslation, Topic
from models.sms import OutboundSms, SmsStatus
from models.subscriber import Subscriber

__all__ = [
    "Area",
    "AreaLevel",
    "Article",
    "ArticleTranslation",
    "Base",
    "Category",
    "CategoryTranslation",
    "OutboundSms",
    "SmsStatus",
    "Subscriber",
    "Topic",
]

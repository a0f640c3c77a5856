"""SQLAlchemy 2 models. Nothing here imports Flask.

Schema changes go through Alembic (``migrations/``); ``Base.metadata`` is what
``alembic revision --autogenerate`` compares against.
"""

from __future__ import annotations

from models.analytics import AreaStatistic
from models.area import Area, AreaLevel
from models.audit import AuditEvent
from models.base import Base
from models.cadre import Cadre, CadreRole, cadre_village
from models.campaign import Campaign, CampaignStatus, MessageTemplate, Subscription
from models.console import ConsoleRole, ConsoleUser, Organisation, console_user_area
from models.content import (
    Article,
    ArticleRevision,
    ArticleTranslation,
    Category,
    CategoryTranslation,
    Topic,
)
from models.household import Household, HouseholdSurvey
from models.job import Job, JobApplication, JobStatus
from models.market import ContactRequest, OfferStatus, PriceAlert, ProduceOffer
from models.sms import RANK, InboundSms, InboundStatus, OutboundSms, SmsStatus, WaitingReport
from models.subscriber import Subscriber
from models.survey import Survey, SurveyDraft, SurveyRound

__all__ = [
    "Area",
    "AreaLevel",
    "AreaStatistic",
    "AuditEvent",
    "Article",
    "ArticleRevision",
    "ArticleTranslation",
    "Base",
    "Cadre",
    "Campaign",
    "CampaignStatus",
    "CadreRole",
    "Category",
    "CategoryTranslation",
    "ConsoleRole",
    "ConsoleUser",
    "ContactRequest",
    "Household",
    "HouseholdSurvey",
    "InboundSms",
    "InboundStatus",
    "Job",
    "JobApplication",
    "JobStatus",
    "MessageTemplate",
    "OfferStatus",
    "Organisation",
    "OutboundSms",
    "PriceAlert",
    "ProduceOffer",
    "RANK",
    "SmsStatus",
    "Subscriber",
    "Subscription",
    "Survey",
    "SurveyDraft",
    "SurveyRound",
    "Topic",
    "WaitingReport",
    "cadre_village",
    "console_user_area",
]

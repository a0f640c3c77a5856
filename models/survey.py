from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, utcnow
from models.household import Json


class Survey(Base):
    """A survey definition, one row per form and version, as imported from an
    XLSForm (``definition`` is pyxform's JSON). A draft and a completed survey
    keep the version they were answered in."""

    __tablename__ = "survey"
    __table_args__ = (UniqueConstraint("form_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(120))
    definition: Mapped[dict[str, Any]] = mapped_column(Json)
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SurveyRound(Base):
    """A survey round (a campaign of visits, e.g. "2026"); the newest is current."""

    __tablename__ = "survey_round"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SurveyDraft(Base):
    """A survey being answered: every answer is written here as it is given, so
    a dropped session (or a lost Redis) continues exactly where it stopped.

    ``key`` names the draft from the USSD effect that opened it, so a repeated
    callback opens it once. ``position`` is the current question's path
    (``["member", 1, "m_age"]``); ``question_no`` its number in the flow."""

    __tablename__ = "survey_draft"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadre.id", ondelete="CASCADE"), index=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))  # a re-survey
    answers: Mapped[dict[str, Any]] = mapped_column(Json)
    position: Mapped[list[Any]] = mapped_column(Json)
    question_no: Mapped[int] = mapped_column(Integer, default=1)
    label: Mapped[str | None] = mapped_column(String(80))  # the head's name once given
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)

"""Pre-aggregated survey figures per area and round, for the console's analytics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from models.area import AreaLevel
from models.base import Base, UtcDateTime, str_enum, utcnow
from models.household import Json


class AreaStatistic(Base):
    """The survey figures of one area (any level) in one round.

    ``figures`` maps a measure name to ``[households, people]`` counts (see
    ``domain.analytics.MEASURES``): sums over the households whose last survey
    in the round is in the area, so an area's figures are the sum of its
    children's. Written by ``domain.analytics.refresh``; read by the console,
    which never aggregates surveys on a page view (``parent_id`` finds an area's
    children in one indexed read).
    """

    __tablename__ = "area_statistic"
    __table_args__ = (Index("ix_area_statistic_parent", "round_id", "parent_id"),)

    round_id: Mapped[int] = mapped_column(
        ForeignKey("survey_round.id", ondelete="CASCADE"), primary_key=True
    )
    area_id: Mapped[int] = mapped_column(
        ForeignKey("area.id", ondelete="CASCADE"), primary_key=True
    )
    parent_id: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[AreaLevel] = mapped_column(str_enum(AreaLevel))
    households: Mapped[int] = mapped_column(Integer)
    figures: Mapped[dict[str, Any]] = mapped_column(Json)  # JSONB on PostgreSQL
    # The summary's measures again as plain columns (``domain.analytics.SUMMARY``),
    # so an export of every village reads integers rather than decoding 10,000
    # documents: people, poor households and people, the poor's scores in 18ths
    # weighted by members, vulnerable and severe households and people, and the
    # households that left poverty since the previous round.
    people: Mapped[int] = mapped_column(Integer, default=0)
    poor_households: Mapped[int] = mapped_column(Integer, default=0)
    poor_people: Mapped[int] = mapped_column(Integer, default=0)
    poor_score18: Mapped[int] = mapped_column(Integer, default=0)
    vulnerable_households: Mapped[int] = mapped_column(Integer, default=0)
    vulnerable_people: Mapped[int] = mapped_column(Integer, default=0)
    severe_households: Mapped[int] = mapped_column(Integer, default=0)
    severe_people: Mapped[int] = mapped_column(Integer, default=0)
    left_poverty: Mapped[int] = mapped_column(Integer, default=0)
    refreshed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

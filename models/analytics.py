"""Pre-aggregated survey figures per area and round, for the console's analytics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from models.area import AreaLevel
from models.base import Base, UtcDateTime, str_enum, utcnow


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
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    refreshed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

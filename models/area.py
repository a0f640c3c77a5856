from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, str_enum


class AreaLevel(enum.StrEnum):
    PROVINCE = "province"
    COUNTY = "county"
    VILLAGE = "village"


class Area(Base):
    """An administrative area: province → county → village (a tree by ``parent_id``)."""

    __tablename__ = "area"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    level: Mapped[AreaLevel] = mapped_column(str_enum(AreaLevel))
    name: Mapped[str] = mapped_column(String(80))
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    timezone: Mapped[str] = mapped_column(String(40), default="Africa/Nairobi")

    parent: Mapped[Area | None] = relationship(remote_side=[id])

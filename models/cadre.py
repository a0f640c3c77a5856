from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.area import Area
from models.base import Base, UtcDateTime, str_enum, utcnow
from models.pin import PinProtected


class CadreRole(enum.StrEnum):
    CADRE = "cadre"  # surveys households in the villages assigned
    SUPERVISOR = "supervisor"  # the same, and oversees cadres (console, later)


cadre_village = Table(
    "cadre_village",
    Base.metadata,
    Column("cadre_id", ForeignKey("cadre.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("area.id", ondelete="CASCADE"), primary_key=True),
)


class Cadre(PinProtected, Base):
    """A field officer: signs in over USSD from ``msisdn`` with a PIN."""

    __tablename__ = "cadre"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(16), unique=True)  # E.164
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[CadreRole] = mapped_column(str_enum(CadreRole), default=CadreRole.CADRE)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    villages: Mapped[list[Area]] = relationship(secondary=cadre_village, order_by=Area.name)

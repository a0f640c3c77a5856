from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.area import Area
from models.base import Base, UtcDateTime, utcnow

#: JSON on every backend, JSONB on PostgreSQL (indexable, compact).
Json = JSON().with_variant(JSONB(), "postgresql")


class Household(Base):
    """A household as registered by a cadre: where it lives and who heads it.

    Its situation lives in its surveys, one per visit (``HouseholdSurvey``)."""

    __tablename__ = "household"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)  # the village
    head_name: Mapped[str] = mapped_column(String(80))
    head_msisdn: Mapped[str | None] = mapped_column(String(16), index=True)  # E.164
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    area: Mapped[Area] = relationship()
    surveys: Mapped[list[HouseholdSurvey]] = relationship(
        back_populates="household", order_by="HouseholdSurvey.completed_at"
    )


class HouseholdSurvey(Base):
    """One completed survey of a household in a round, with its classification
    computed on completion by the survey version it was answered in.

    Classification columns are plain columns so audiences and analytics can
    filter on them in SQL. ``is_latest`` marks each household's newest survey.
    """

    __tablename__ = "household_survey"
    __table_args__ = (
        Index("ix_household_survey_latest", "household_id", "is_latest"),
        # The console lists households newest-surveyed first: their latest surveys
        # by completion time, without sorting millions of rows.
        Index(
            "ix_household_survey_latest_completed",
            "completed_at",
            postgresql_where=text("is_latest"),
            sqlite_where=text("is_latest"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"))  # definition and version
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_round.id"), index=True)
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadre.id"))
    draft_key: Mapped[str] = mapped_column(String(40), unique=True)  # completes once
    answers: Mapped[dict[str, Any]] = mapped_column(Json)
    completed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True)

    # Alkire–Foster / global MPI: the weighted deprivation score as an exact
    # fraction ("7/18") and as a number for SQL, the identification flags, and a
    # ``dep_<indicator>`` flag per indicator of ``domain.mpi.INDICATORS``.
    mpi_score: Mapped[str] = mapped_column(String(16))
    mpi_score_value: Mapped[float] = mapped_column(Float)
    mpi_poor: Mapped[bool] = mapped_column(Boolean, index=True)
    mpi_vulnerable: Mapped[bool] = mapped_column(Boolean)
    mpi_severe: Mapped[bool] = mapped_column(Boolean)
    dep_years_of_schooling: Mapped[bool] = mapped_column(Boolean)
    dep_school_attendance: Mapped[bool] = mapped_column(Boolean)
    dep_child_mortality: Mapped[bool] = mapped_column(Boolean)
    dep_nutrition: Mapped[bool] = mapped_column(Boolean)
    dep_electricity: Mapped[bool] = mapped_column(Boolean)
    dep_sanitation: Mapped[bool] = mapped_column(Boolean)
    dep_drinking_water: Mapped[bool] = mapped_column(Boolean)
    dep_housing: Mapped[bool] = mapped_column(Boolean)
    dep_cooking_fuel: Mapped[bool] = mapped_column(Boolean)
    dep_assets: Mapped[bool] = mapped_column(Boolean)
    # "Two no-worries, three guarantees", plus safe drinking water.
    food_ok: Mapped[bool] = mapped_column(Boolean)
    clothing_ok: Mapped[bool] = mapped_column(Boolean)
    education_ok: Mapped[bool] = mapped_column(Boolean)
    medical_ok: Mapped[bool] = mapped_column(Boolean)
    housing_ok: Mapped[bool] = mapped_column(Boolean)
    water_ok: Mapped[bool] = mapped_column(Boolean)
    # WHO/UNICEF JMP service levels and FAO FIES.
    water_level: Mapped[str] = mapped_column(String(16), index=True)
    sanitation_level: Mapped[str] = mapped_column(String(16))
    fies_score: Mapped[int] = mapped_column(Integer)
    food_insecurity: Mapped[str] = mapped_column(String(16))
    # Counts for targeting.
    members: Mapped[int] = mapped_column(Integer)
    children_out_of_school: Mapped[int] = mapped_column(Integer)
    members_able_to_work: Mapped[int] = mapped_column(Integer)
    members_with_disability: Mapped[int] = mapped_column(Integer)
    members_chronically_ill: Mapped[int] = mapped_column(Integer)
    members_aged_70_plus: Mapped[int] = mapped_column(Integer)
    hardship: Mapped[str | None] = mapped_column(String(16))

    household: Mapped[Household] = relationship(back_populates="surveys")

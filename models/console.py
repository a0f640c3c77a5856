"""Operators' web console accounts (``/console``): who may sign in, and as what."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.area import Area
from models.base import Base, UtcDateTime, str_enum, utcnow


class ConsoleRole(enum.StrEnum):
    ADMIN = "admin"  # everything, everywhere
    OPERATOR = "operator"  # runs the service (queues, campaigns), every area
    SUPERVISOR = "supervisor"  # sees only the areas assigned, and what is below them
    EDITOR = "editor"  # an organisation's content editor: only its own organisation's content


class Organisation(Base):
    """A government office or NGO that publishes what villagers read (articles).

    An editor belongs to one and manages only its content; admins and operators
    manage everyone's.
    """

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


console_user_area = Table(
    "console_user_area",
    Base.metadata,
    Column("user_id", ForeignKey("console_user.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("area.id", ondelete="CASCADE"), primary_key=True),
)


class ConsoleUser(Base):
    """A person who signs in to the console with a username and a password.

    Only the password's argon2id hash is kept (``domain.console_users``). Five
    failed sign-ins in a row lock the account until ``locked_until``.
    """

    __tablename__ = "console_user"
    # Usernames are compared lower-case; the database refuses any other spelling,
    # so "Alice" and "alice" can never be two accounts.
    __table_args__ = (CheckConstraint("username = lower(username)", name="username_lower"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)  # [a-z0-9._-]{3,40}
    name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[ConsoleRole] = mapped_column(str_enum(ConsoleRole))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # in a row
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Sessions signed in before this instant are no longer valid.
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    # An editor's organisation (None for every other role).
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id"), default=None, index=True
    )
    organisation: Mapped[Organisation | None] = relationship()

    # A supervisor's areas (any level); empty for admins and operators.
    areas: Mapped[list[Area]] = relationship(secondary=console_user_area, order_by=Area.name)

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UtcDateTime, str_enum, utcnow


class OfferStatus(enum.StrEnum):
    """Life of a produce offer: open → sold / cancelled (by its farmer) / expired."""

    OPEN = "open"
    SOLD = "sold"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class ProduceOffer(Base):
    """A farmer's offer to sell, as parsed from their SMS (``domain.offer_parser``).

    ``produce`` and ``unit`` are the vocabularies' canonical names
    (``vocabularies/``); exactly one of ``unit_price`` and ``total_price`` is
    what the farmer wrote, and ``price_per_kg`` is worked out when the unit has a
    weight, for price statistics. ``inbound_id`` is unique: one message makes
    at most one offer, however often it is processed (and ``dedup_key`` the
    same for a USSD confirmation).
    """

    __tablename__ = "produce_offer"
    __table_args__ = (
        Index("ix_produce_offer_market", "produce", "status", "area_id"),
        Index("ix_produce_offer_prices", "produce", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(16), index=True)  # the seller, E.164
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_sms.id", ondelete="SET NULL"), unique=True
    )
    # An offer made over USSD: the effect key of the confirming input, so a
    # repeated callback makes one offer.
    dedup_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    produce: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit: Mapped[str] = mapped_column(String(16))
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    total_price: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    price_per_kg: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))
    currency: Mapped[str] = mapped_column(String(3))  # ISO 4217
    location: Mapped[str | None] = mapped_column(String(80))  # as the farmer wrote it
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))  # the seller's village
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[OfferStatus] = mapped_column(str_enum(OfferStatus), default=OfferStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PriceAlert(Base):
    """A subscriber's wish for a weekly SMS of a produce's median price.

    ``area_id`` is the area the price is taken over (the subscriber's county
    when they subscribed, or None for the whole country). One alert per
    subscriber and produce; subscribing again moves it.
    """

    __tablename__ = "price_alert"
    __table_args__ = (Index("ix_price_alert_produce_area", "produce", "area_id"),)

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True
    )
    produce: Mapped[str] = mapped_column(String(40), primary_key=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ContactRequest(Base):
    """A buyer asked for a seller's number (``Market → Buy → Contact seller``).

    One row per buyer and offer: asking again sends nothing more.
    """

    __tablename__ = "contact_request"

    offer_id: Mapped[int] = mapped_column(
        ForeignKey("produce_offer.id", ondelete="CASCADE"), primary_key=True
    )
    buyer_msisdn: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)

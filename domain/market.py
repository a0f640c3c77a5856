"""The produce market: offers farmers text in, and their life until sold.

An offer comes from an inbound SMS parsed by ``domain.offer_parser``; it is
stored with its price per kilogram when its unit has a weight
(``vocabularies/units.yaml``), so offers in bags and in kilograms compare. It is
open for ``OFFER_DAYS`` days unless its farmer replies ``SOLD <n>`` or
``CANCEL <n>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from babel.numbers import format_decimal, get_territory_currencies
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import offer_parser
from domain.translation import N_, gettext_for
from models import OfferStatus, ProduceOffer, Subscriber

MSG_NEGOTIABLE = N_("price to agree")


class Created(NamedTuple):
    offer: ProduceOffer
    created: bool  # False: this message had made the offer already


def local_currency(region: str) -> str:
    """The ISO 4217 currency of ``region`` (ISO 3166-1, e.g. ``"KE"`` → ``"KES"``),
    from CLDR via Babel; ``"XXX"`` (no currency) when CLDR names none."""
    found = get_territory_currencies(region)
    return found[0] if found else "XXX"


def create_offer(
    db: Session,
    *,
    msisdn: str,
    parsed: offer_parser.Offer,
    inbound_id: int | None,
    now: datetime,
    days: int,
    region: str,
) -> Created:
    """Store ``parsed`` as an open offer of ``msisdn`` (E.164), open ``days`` days.

    The currency is the one the farmer named, else ``region``'s. The seller's
    village is their subscriber record's. One offer per ``inbound_id``: a
    message processed twice returns the first offer. Does not commit.
    """
    if inbound_id is not None:
        found = db.scalars(
            select(ProduceOffer).where(ProduceOffer.inbound_id == inbound_id)
        ).first()
        if found is not None:
            return Created(found, False)
    area_id = db.scalar(select(Subscriber.area_id).where(Subscriber.msisdn == msisdn))
    kg = offer_parser.unit_kg(parsed.unit, parsed.produce)
    unit_price = parsed.unit_price
    if unit_price is None and parsed.total_price is not None and parsed.quantity:
        unit_price = parsed.total_price / parsed.quantity
    per_kg = None
    if unit_price is not None and kg:
        per_kg = (unit_price / kg).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    offer = ProduceOffer(
        msisdn=msisdn,
        inbound_id=inbound_id,
        produce=parsed.produce,
        quantity=parsed.quantity,
        unit=parsed.unit,
        unit_price=parsed.unit_price,
        total_price=parsed.total_price,
        price_per_kg=per_kg,
        currency=parsed.currency or local_currency(region),
        location=(parsed.location or None) and parsed.location[:80],
        area_id=area_id,
        language=parsed.language,
        status=OfferStatus.OPEN,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    try:
        with db.begin_nested():
            db.add(offer)
    except IntegrityError:  # a racing copy of the same message made it first
        found = db.scalars(
            select(ProduceOffer).where(ProduceOffer.inbound_id == inbound_id)
        ).first()
        if found is None:
            raise
        return Created(found, False)
    return Created(offer, True)


class Closed(NamedTuple):
    outcome: str  # "closed", "already" (not open any more) or "unknown" (not theirs)
    offer: ProduceOffer | None


def close_offer(
    db: Session, *, msisdn: str, offer_id: int, status: OfferStatus, now: datetime
) -> Closed:
    """Mark ``msisdn``'s offer ``offer_id`` sold or cancelled. Someone else's offer
    and an unknown number are alike ("unknown"): the reply gives nothing away.
    Does not commit."""
    if status not in (OfferStatus.SOLD, OfferStatus.CANCELLED):
        raise ValueError(f"an offer is closed as sold or cancelled, not {status.value}")
    if not 0 < offer_id < 2**31:
        return Closed("unknown", None)
    offer = db.get(ProduceOffer, offer_id)
    if offer is None or offer.msisdn != msisdn:
        return Closed("unknown", None)
    changed = db.execute(
        update(ProduceOffer)
        .where(ProduceOffer.id == offer_id, ProduceOffer.status == OfferStatus.OPEN)
        .values(status=status, closed_at=now)
    ).rowcount  # type: ignore[attr-defined]
    db.refresh(offer)
    return Closed("closed" if changed else "already", offer)


def expire_offers(db: Session, now: datetime) -> int:
    """Close every open offer past its expiry; returns how many. Does not commit."""
    return int(
        db.execute(
            update(ProduceOffer)
            .where(ProduceOffer.status == OfferStatus.OPEN, ProduceOffer.expires_at <= now)
            .values(status=OfferStatus.EXPIRED, closed_at=now)
        ).rowcount  # type: ignore[attr-defined]
    )


def amount(value: Decimal, language: str) -> str:
    """``1500`` → ``"1,500"`` (en), ``"1 500"`` (fr): the recipient's digit grouping,
    with a plain space where the locale groups with a no-break one (which is not
    GSM-7 and would make the SMS UCS-2). A number too long to group is written
    in scientific notation."""
    if not value.is_finite() or value.adjusted() >= 15:
        return f"{value:.3E}"
    text = format_decimal(value.normalize(), locale=language, group_separator=True)
    return text.replace("\u202f", " ").replace("\xa0", " ")


#: What an offer may hold once stored (the columns' precision): smaller
#: quantities and prices round to zero, larger ones are not a real offer.
MIN_QUANTITY = Decimal("0.001")
MIN_PRICE = Decimal("0.01")


def unstorable(parsed: offer_parser.Offer) -> str | None:
    """The ``offer_parser.Unclear`` problem code that ``parsed`` has once stored
    (a quantity or price that rounds to zero, a price per kg beyond
    ``offer_parser.MAX_PRICE``), or None when it stores as read."""
    if parsed.quantity < MIN_QUANTITY:
        return "zero_quantity"
    for price in (parsed.unit_price, parsed.total_price):
        if price is not None and price < MIN_PRICE:
            return "zero_price"
    if parsed.quantity > offer_parser.MAX_QUANTITY * 1000:
        return "too_large"
    kg = offer_parser.unit_kg(parsed.unit, parsed.produce)
    unit_price = parsed.unit_price
    if unit_price is None and parsed.total_price is not None:
        unit_price = parsed.total_price / parsed.quantity
    if unit_price is not None and kg and unit_price / kg > offer_parser.MAX_PRICE:
        return "too_large"
    return None


def describe(offer: ProduceOffer, language: str) -> str:
    """``"maize 50 kg at KES 30/kg"``: the offer as its confirmation names it, with
    produce and unit in ``language`` (``vocabularies/``)."""
    produce = offer_parser.produce_name(offer.produce, language)
    unit = offer_parser.unit_name(offer.unit, language)
    quantity = amount(offer.quantity, language)
    if offer.unit_price is not None:
        price = f"{offer.currency} {amount(offer.unit_price, language)}/{unit}"
    elif offer.total_price is not None:
        price = f"{offer.currency} {amount(offer.total_price, language)}"
    else:  # "prix à débattre": the farmer named no price
        return f"{produce} {quantity} {unit}, {gettext_for(language)(MSG_NEGOTIABLE)}"
    return f"{produce} {quantity} {unit} @ {price}"


def describe_parts(understood: Mapping[str, object], language: str) -> str:
    """What the parser read of an unclear offer, in ``language``: ``"maize, 50 kg,
    30"`` (produce, quantity and unit, price; whatever was read)."""
    parts: list[str] = []
    produce = understood.get("produce")
    if isinstance(produce, str):
        parts.append(offer_parser.produce_name(produce, language))
    quantity, unit = understood.get("quantity"), understood.get("unit")
    if isinstance(quantity, Decimal | int | float):
        unit_text = offer_parser.unit_name(unit, language) if isinstance(unit, str) else ""
        parts.append(f"{amount(Decimal(str(quantity)), language)} {unit_text}".strip())
    for key in ("unit_price", "total_price", "price"):
        price = understood.get(key)
        if isinstance(price, Decimal | int | float):
            parts.append(amount(Decimal(str(price)), language))
            break
    return ", ".join(parts)

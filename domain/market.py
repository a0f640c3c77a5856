"""The produce market: offers farmers text in, and their life until sold.

An offer comes from an inbound SMS parsed by ``domain.offer_parser``; it is
stored with its price per kilogram when its unit has a weight
(``vocabularies/units.yaml``), so offers in bags and in kilograms compare. It is
open for ``OFFER_DAYS`` days unless its farmer replies ``SOLD <n>`` or
``CANCEL <n>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from babel.numbers import format_decimal, get_territory_currencies
from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import offer_parser
from domain.sms import queue_sms
from domain.subscribers import get_or_create_subscriber
from domain.translation import N_, gettext_for
from models import Area, AreaLevel, ContactRequest, OfferStatus, ProduceOffer, Subscriber

MSG_NEGOTIABLE = N_("price to agree")
MSG_NO_PLACE = N_("place not given")


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
    dedup_key: str | None = None,
) -> Created:
    """Store ``parsed`` as an open offer of ``msisdn`` (E.164), open ``days`` days.

    The currency is the one the farmer named, else ``region``'s. The seller's
    village is their subscriber record's. One offer per ``inbound_id`` (an
    SMS) or ``dedup_key`` (a USSD confirmation): a message processed twice, or
    a callback repeated, returns the first offer. Does not commit.
    """
    same = (
        ProduceOffer.inbound_id == inbound_id
        if inbound_id is not None
        else ProduceOffer.dedup_key == dedup_key
        if dedup_key is not None
        else None
    )
    if same is not None:
        found = db.scalars(select(ProduceOffer).where(same)).first()
        if found is not None:
            return Created(found, False)
    area_id = db.scalar(select(Subscriber.area_id).where(Subscriber.msisdn == msisdn))
    if area_id is None and parsed.location:
        area_id = village_named(db, parsed.location)
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
        dedup_key=dedup_key,
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
        found = None if same is None else db.scalars(select(ProduceOffer).where(same)).first()
        if found is None:
            raise
        return Created(found, False)
    return Created(offer, True)


def village_named(db: Session, name: str) -> int | None:
    """The id of the one village called ``name`` (case and spaces aside), or None
    when there is none or more than one: "SELL maize 50kg 30 at Ahero" from a
    farmer whose village is not known is then listed under Ahero."""
    wanted = " ".join(name.split()).casefold()
    if not wanted or len(wanted) > 80:
        return None
    found = db.scalars(
        select(Area.id)
        .where(Area.level == AreaLevel.VILLAGE, func.lower(Area.name) == wanted)
        .limit(2)
    ).all()
    return found[0] if len(found) == 1 else None


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


def describe(offer: ProduceOffer | offer_parser.Offer, language: str) -> str:
    """``"maize 50 kg at KES 30/kg"``: the offer as its confirmation names it, with
    produce and unit in ``language`` (``vocabularies/``); a stored offer, or one
    still being made (the USSD Sell's confirm screen)."""
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


# -- buyers: what is on offer, and the seller's number --------------------------------

MSG_SELLER_NUMBER = N_("Ngazi offer %(n)d: %(offer)s, %(place)s. Seller: %(msisdn)s")
MSG_BUYER_NUMBER = N_("Ngazi: a buyer wants your offer %(n)d (%(offer)s). Call %(msisdn)s")


def open_offers_filter(
    produce: str | None,
    area_ids: Sequence[int] | None,
    now: datetime,
    currency: str | None = None,
) -> Any:
    """The SQL condition for offers a buyer may see: open, not past expiry (the
    maintenance that closes them runs every few minutes), of ``produce`` (any
    when None), sold in ``area_ids`` (anywhere when None), priced in
    ``currency`` (any when None: a buyer in Kenya pays in KES, and an offer in
    CFA francs or yuan is not for them)."""
    condition = and_(ProduceOffer.status == OfferStatus.OPEN, ProduceOffer.expires_at > now)
    if currency is not None:
        condition = and_(condition, ProduceOffer.currency == currency)
    if produce is not None:
        condition = and_(condition, ProduceOffer.produce == produce)
    if area_ids is not None:
        condition = and_(condition, ProduceOffer.area_id.in_(area_ids))
    return condition


def produce_on_offer(
    db: Session, area_ids: Sequence[int] | None, now: datetime, currency: str | None = None
) -> list[tuple[str, int]]:
    """``[(produce, open offers), …]`` in ``area_ids`` (anywhere when None), the
    most offered first, then in ``produce.yaml``'s order."""
    rows = db.execute(
        select(ProduceOffer.produce, func.count())
        .where(open_offers_filter(None, area_ids, now, currency))
        .group_by(ProduceOffer.produce)
    ).all()
    return most_offered(rows)


def most_offered(rows: Sequence[Any]) -> list[tuple[str, int]]:
    """``(produce, count)`` rows, the most offered first, then in
    ``produce.yaml``'s order (commonest crops first)."""
    order = {name: i for i, name in enumerate(offer_parser.all_produce())}
    found = [(str(produce), int(n)) for produce, n in rows]
    return sorted(found, key=lambda row: (-row[1], order.get(row[0], len(order)), row[0]))


def open_offers(
    db: Session,
    produce: str,
    area_ids: Sequence[int] | None,
    now: datetime,
    limit: int = 200,
    currency: str | None = None,
) -> list[ProduceOffer]:
    """Open offers of ``produce`` in ``area_ids`` (anywhere when None), newest
    first, at most ``limit`` (a USSD list of more is never read)."""
    return list(
        db.scalars(
            select(ProduceOffer)
            .where(open_offers_filter(produce, area_ids, now, currency))
            .order_by(ProduceOffer.created_at.desc(), ProduceOffer.id.desc())
            .limit(limit)
        )
    )


def place_of(db: Session, offer: ProduceOffer, language: str) -> str:
    """Where ``offer`` is: its village, else the place its farmer wrote, else
    "place not given" in ``language``."""
    return places_of(db, [offer], language)[offer.id]


def places_of(db: Session, offers: Sequence[ProduceOffer], language: str) -> dict[int, str]:
    """``place_of`` for a page of offers at once (one query): offer id → place."""
    village_ids = {o.area_id for o in offers if o.area_id is not None}
    names: dict[int, str] = {}
    if village_ids:
        rows = db.execute(select(Area.id, Area.name).where(Area.id.in_(village_ids)))
        names = {area_id: name for area_id, name in rows}
    missing = gettext_for(language)(MSG_NO_PLACE)
    return {
        o.id: (names.get(o.area_id) if o.area_id is not None else None) or o.location or missing
        for o in offers
    }


def price_text(offer: ProduceOffer, language: str) -> str:
    """``"KES 30/kg"``, ``"KES 3,000/bag"``, ``"KES 4,500"`` (a total) or the
    words for a price to agree, in ``language``."""
    unit = offer_parser.unit_name(offer.unit, language)
    if offer.unit_price is not None:
        return f"{offer.currency} {amount(offer.unit_price, language)}/{unit}"
    if offer.total_price is not None:
        return f"{offer.currency} {amount(offer.total_price, language)}"
    return gettext_for(language)(MSG_NEGOTIABLE)


class Contact(NamedTuple):
    """What ``contact_seller`` did. ``outcome``: ``sent`` (both numbers sent),
    ``again`` (this buyer had asked for this offer: nothing new is sent),
    ``own`` (the buyer is the seller), ``closed`` (sold, withdrawn or expired),
    ``private`` (the seller did not agree to share their number), ``limit``
    (the buyer asked for too many numbers today) or ``unknown`` (no such offer).
    ``sms`` are the outbound SMS ids still to send (enqueue ``send_sms``)."""

    outcome: str
    sms: tuple[int, ...] = ()


def contact_seller(
    db: Session,
    *,
    offer_id: int,
    buyer_msisdn: str,
    buyer_language: str,
    now: datetime,
    daily_limit: int,
) -> Contact:
    """Send the buyer ``buyer_msisdn`` (E.164) the seller's number and the seller
    the buyer's, each by SMS in their own language, once per buyer and offer.

    Only when the seller agreed to share their number (``Subscriber.shares_contact``);
    a buyer gets at most ``daily_limit`` sellers' numbers in 24 hours, so the
    market cannot be used to harvest numbers. Commits.
    """
    offer = db.get(ProduceOffer, offer_id)
    if offer is None:
        return Contact("unknown")
    if offer.msisdn == buyer_msisdn:
        return Contact("own")
    asked = db.get(ContactRequest, (offer_id, buyer_msisdn))
    if asked is None:
        if offer.status is not OfferStatus.OPEN or offer.expires_at <= now:
            return Contact("closed")
        if not shares_contact(db, offer.msisdn):
            return Contact("private")
        recent = db.scalar(
            select(func.count())
            .select_from(ContactRequest)
            .where(
                ContactRequest.buyer_msisdn == buyer_msisdn,
                ContactRequest.created_at > now - timedelta(days=1),
            )
        )
        if (recent or 0) >= daily_limit:
            return Contact("limit")
        try:
            with db.begin_nested():
                db.add(ContactRequest(offer_id=offer_id, buyer_msisdn=buyer_msisdn, created_at=now))
        except IntegrityError:  # a racing copy of the same request: it sends
            pass
        db.commit()
        outcome = "sent"
    else:
        outcome = "again"
    # Queued by key whether new or not: a request whose SMS were never queued
    # (the process died between) gets them now, and a repeat gets the same rows.
    seller_language = _language_of(db, offer.msisdn) or offer.language
    to_buyer = gettext_for(buyer_language)(MSG_SELLER_NUMBER) % {
        "n": offer.id,
        "offer": describe(offer, buyer_language),
        "place": place_of(db, offer, buyer_language),
        "msisdn": offer.msisdn,
    }
    to_seller = gettext_for(seller_language)(MSG_BUYER_NUMBER) % {
        "n": offer.id,
        "offer": describe(offer, seller_language),
        "msisdn": buyer_msisdn,
    }
    key = f"contact:{offer.id}:{buyer_msisdn}"
    sent = [
        queue_sms(db, msisdn=buyer_msisdn, body=to_buyer, dedup_key=key + ":buyer"),
        queue_sms(db, msisdn=offer.msisdn, body=to_seller, dedup_key=key + ":seller"),
    ]
    return Contact(outcome, tuple(q.id for q in sent if q.pending))


def _language_of(db: Session, msisdn: str) -> str | None:
    found = db.scalar(select(Subscriber.language).where(Subscriber.msisdn == msisdn))
    return str(found) if found else None


def shares_contact(db: Session, msisdn: str) -> bool | None:
    """Whether the seller ``msisdn`` agreed that buyers get their number (None:
    not asked yet)."""
    found = db.scalar(select(Subscriber.shares_contact).where(Subscriber.msisdn == msisdn))
    return None if found is None else bool(found)


def set_shares_contact(db: Session, msisdn: str, shares: bool) -> None:
    """Record the seller's answer (creating their subscriber record). Does not commit."""
    subscriber_id, _ = get_or_create_subscriber(db, msisdn)
    db.execute(
        update(Subscriber).where(Subscriber.id == subscriber_id).values(shares_contact=shares)
    )


def offers_of(db: Session, msisdn: str, now: datetime) -> list[ProduceOffer]:
    """The seller's open offers, newest first."""
    return list(
        db.scalars(
            select(ProduceOffer)
            .where(ProduceOffer.msisdn == msisdn, open_offers_filter(None, None, now))
            .order_by(ProduceOffer.created_at.desc(), ProduceOffer.id.desc())
        )
    )

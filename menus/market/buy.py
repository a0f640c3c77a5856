"""Market → Buy: produce on offer → where → the offers, newest first → one offer
→ Contact seller (each side gets the other's number by SMS, when the seller
agreed to share theirs: ``domain.market.contact_seller``)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from domain import market, offer_parser
from domain.translation import N_, join_sentences
from menus.content import GONE
from menus.context import Context
from menus.market.picks import (
    AREA,
    CONTACTED,
    MAX_LISTED,
    MSG_WHAT_PRODUCE,
    MSG_WHERE,
    OFFER,
    PRODUCE,
    area_choices,
    chosen_area_ids,
    chosen_produce,
    listed,
    local_currency,
    pick_area,
    produce_items,
    produce_label,
)
from menus.menu import Items, Option, State
from models import ContactRequest, OfferStatus, ProduceOffer
from models.base import utcnow

MSG_NONE_ON_OFFER = N_("Nothing is on offer now. Please check again later.")
MSG_NO_OFFERS_HERE = N_("No offers here now. Try a wider area.")
MSG_TODAY = N_("today")
MSG_DAYS_AGO = N_("%(n)dd ago")
MSG_OFFER_BODY = N_("%(place)s, %(age)s. Offer %(n)d.")
MSG_PRIVATE = N_("The seller keeps their number private.")
MSG_CONTACT = N_("Contact seller")
MSG_CONTACT_SENT = N_("We sent you the seller's number by SMS, and yours to the seller.")
MSG_CONTACT_AGAIN = N_("We sent you this seller's number before. Check your SMS.")
MSG_CONTACT_OWN = N_("This is your own offer.")
MSG_CONTACT_CLOSED = N_("This offer is closed.")
MSG_CONTACT_LIMIT = N_("You asked for many numbers today. Please try tomorrow.")


def _produce_on_offer(ctx: Context) -> list[tuple[int, str]]:
    return listed(
        ctx,
        "mk_list_produce",
        lambda ctx: produce_items(
            market.produce_on_offer(ctx.db, None, utcnow(), local_currency()), ctx
        ),
    )


def _age(ctx: Context, created: datetime, now: datetime) -> str:
    days = (now - created).days
    return ctx.gettext(MSG_TODAY) if days < 1 else ctx.gettext(MSG_DAYS_AGO) % {"n": days}


def _offers(ctx: Context) -> list[tuple[int, str]]:
    return listed(ctx, "mk_list_offers", _list_offers)


def _list_offers(ctx: Context) -> list[tuple[int, str]]:
    produce = chosen_produce(ctx)
    if produce is None:
        return []
    now = utcnow()
    found = market.open_offers(
        ctx.db, produce, chosen_area_ids(ctx), now, limit=MAX_LISTED, currency=local_currency()
    )
    lines = []
    for offer in found:
        quantity = market.amount(offer.quantity, ctx.language)
        unit = offer_parser.unit_name(offer.unit, ctx.language)
        price = market.price_text(offer, ctx.language)
        place = market.place_of(ctx.db, offer, ctx.language)
        lines.append(
            (offer.id, f"{quantity} {unit} {price}, {place}, {_age(ctx, offer.created_at, now)}")
        )
    return lines


def open_offer(ctx: Context) -> ProduceOffer | None:
    offer = ctx.db.get(ProduceOffer, ctx.data.get(OFFER, 0))
    if offer is None or offer.status is not OfferStatus.OPEN or offer.expires_at <= utcnow():
        return None
    return offer


def _offer_title(ctx: Context) -> str:
    offer = open_offer(ctx)
    return market.describe(offer, ctx.language) if offer is not None else ctx.gettext(GONE)


def _offer_body(ctx: Context) -> str:
    offer = open_offer(ctx)
    if offer is None:
        return ""
    text = ctx.gettext(MSG_OFFER_BODY) % {
        "place": market.place_of(ctx.db, offer, ctx.language),
        "age": _age(ctx, offer.created_at, utcnow()),
        "n": offer.id,
    }
    if not market.shares_contact(ctx.db, offer.msisdn):
        text = join_sentences(ctx.language, text, ctx.gettext(MSG_PRIVATE))
    return text


def _can_contact(ctx: Context) -> bool:
    offer = open_offer(ctx)
    if offer is None or offer.msisdn == ctx.msisdn:  # one's own offer: nobody to call
        return False
    return bool(market.shares_contact(ctx.db, offer.msisdn))


def _contact(ctx: Context) -> None:
    ctx.data.pop(CONTACTED, None)
    ctx.run(_send_contacts)


def _send_contacts(ctx: Context) -> None:
    from workers import SMS, enqueue
    from workers.sms import send_sms

    done = market.contact_seller(
        ctx.db,
        offer_id=ctx.data.get(OFFER, 0),
        buyer_msisdn=ctx.msisdn,
        buyer_language=ctx.language,
        now=utcnow(),
        daily_limit=current_app.config["MARKET_CONTACTS_PER_DAY"],
    )
    ctx.data[CONTACTED] = done.outcome
    for sms_id in done.sms:
        enqueue(SMS, send_sms, sms_id)


CONTACT_OUTCOMES = {
    "sent": MSG_CONTACT_SENT,
    "again": MSG_CONTACT_AGAIN,
    "own": MSG_CONTACT_OWN,
    "closed": MSG_CONTACT_CLOSED,
    "private": MSG_PRIVATE,
    "limit": MSG_CONTACT_LIMIT,
    "unknown": GONE,
}


def _contacted_body(ctx: Context) -> str:
    outcome = ctx.data.get(CONTACTED)
    if outcome is None:
        # A shortcut dial ran the effect on a copy of the session's data:
        # what it did is read back from the database.
        asked = ctx.db.get(ContactRequest, (ctx.data.get(OFFER, 0), ctx.msisdn))
        outcome = "sent" if asked is not None else "unknown"
    return ctx.gettext(CONTACT_OUTCOMES.get(outcome, GONE))


STATES = [
    State(
        "buy_produce",
        MSG_WHAT_PRODUCE,
        items=Items(_produce_on_offer, key=PRODUCE, dest="buy_area"),
        back="home",
        empty=MSG_NONE_ON_OFFER,
    ),
    State(
        "buy_area",
        MSG_WHERE,
        items=Items(area_choices, key=AREA, dest="buy_offers", effect=pick_area),
        back="buy_produce",
    ),
    State(
        "buy_offers",
        produce_label,
        items=Items(_offers, key=OFFER, dest="buy_offer"),
        back="buy_area",
        empty=MSG_NO_OFFERS_HERE,
    ),
    State(
        "buy_offer",
        _offer_title,
        body=_offer_body,
        options=(Option("1", MSG_CONTACT, "contacted", _contact, when=_can_contact),),
        back="buy_offers",
    ),
    State("contacted", MSG_CONTACT, body=_contacted_body, back="buy_offer"),
]

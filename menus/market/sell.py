"""Market → Sell: the offer a farmer could text, made step by step: produce →
unit → how many → price per unit → confirm. The first time, the confirm screen
also asks whether buyers may get the seller's number. The offer is confirmed
by the same SMS as one texted in."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask import current_app
from sqlalchemy import select

from domain import market, offer_parser
from domain.inbound import MSG_OFFER
from domain.sms import queue_sms
from domain.translation import N_
from menus.content import GONE
from menus.context import Context
from menus.market.picks import (
    MSG_SELL,
    MSG_WHAT_PRODUCE,
    OFFER_KEY,
    OFFERED,
    PRICE,
    PRODUCE,
    QUANTITY,
    UNIT,
    chosen_produce,
    local_currency,
    produce_label,
)
from menus.menu import Effect, Input, Items, Option, Outcome, State, translated
from models import ProduceOffer
from models.base import utcnow

#: Amounts typed on a keypad: a quantity to the gram (3 decimals, as stored),
#: a price to the cent (2).
_QUANTITY = re.compile(r"\d{1,9}(\.\d{1,3})?")
_PRICE = re.compile(r"\d{1,9}(\.\d{1,2})?")

MSG_WHICH_UNIT = N_("Sold by which unit?")
MSG_HOW_MANY = N_("How many %(unit)s?")
MSG_PRICE_PER = N_("Price per %(unit)s in %(currency)s?")
MSG_NUMBER_HINT = N_("Type a number, like 50 or 2.5")
MSG_TOO_LARGE = N_("That number is too large.")
MSG_CONFIRM = N_("Confirm")
MSG_CONFIRM_SHARE = N_("Confirm, buyers may call me")
MSG_CONFIRM_PRIVATE = N_("Confirm, keep my number private")
MSG_SELL_SUMMARY = N_("%(offer)s. Open %(days)d days.")
MSG_OFFERED = N_("Offer %(n)d is open. We sent it to you by SMS.")


def _all_produce(ctx: Context) -> list[tuple[int, str]]:
    return [
        (i, offer_parser.produce_name(name, ctx.language))
        for i, name in enumerate(offer_parser.all_produce())
    ]


def _unit(ctx: Context) -> str | None:
    names = offer_parser.units()
    index = ctx.data.get(UNIT)
    return names[index] if isinstance(index, int) and 0 <= index < len(names) else None


def _unit_name(ctx: Context) -> str:
    unit = _unit(ctx)
    return offer_parser.unit_name(unit, ctx.language) if unit else ""


def _units(ctx: Context) -> list[tuple[int, str]]:
    # Jin (斤) is a Chinese unit: offered to callers who read Chinese.
    return [
        (i, offer_parser.unit_name(name, ctx.language))
        for i, name in enumerate(offer_parser.units())
        if name != "jin" or ctx.language == "zh"
    ]


def start_sell(ctx: Context) -> None:
    for key in (UNIT, QUANTITY, PRICE, OFFERED):
        ctx.data.pop(key, None)


def _number(text: str, limit: Decimal, form: re.Pattern[str]) -> tuple[Decimal | None, str | None]:
    """A positive number typed on a keypad (``50``, ``2.5``) in ``form``, or the
    hint's msgid."""
    text = text.strip()
    if not form.fullmatch(text):
        return None, MSG_NUMBER_HINT
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None, MSG_NUMBER_HINT
    if value <= 0:
        return None, MSG_NUMBER_HINT
    if value > limit:
        return None, MSG_TOO_LARGE
    return value, None


def _accept_quantity(ctx: Context, text: str) -> Outcome:
    value, hint = _number(text, offer_parser.MAX_QUANTITY, _QUANTITY)
    if value is None:
        return Outcome(error=ctx.gettext(hint or MSG_NUMBER_HINT))
    ctx.data[QUANTITY] = str(value)
    return Outcome(leave=True)


def _accept_price(ctx: Context, text: str) -> Outcome:
    value, hint = _number(text, offer_parser.MAX_PRICE * 1000, _PRICE)
    if value is None:
        return Outcome(error=ctx.gettext(hint or MSG_NUMBER_HINT))
    ctx.data[PRICE] = str(value)
    draft = _draft(ctx)
    problem = market.unstorable(draft) if draft is not None else None
    if problem is not None:
        # Beyond what an offer may hold (a price per kg past offer_parser.MAX_PRICE),
        # or a price that rounds to nothing.
        ctx.data.pop(PRICE, None)
        hint = MSG_TOO_LARGE if problem == "too_large" else MSG_NUMBER_HINT
        return Outcome(error=ctx.gettext(hint))
    return Outcome(leave=True)


def _draft(ctx: Context) -> offer_parser.Offer | None:
    """The offer as the caller has entered it so far, when complete."""
    produce, unit = chosen_produce(ctx), _unit(ctx)
    quantity, price = ctx.data.get(QUANTITY), ctx.data.get(PRICE)
    if produce is None or unit is None or quantity is None or price is None:
        return None
    return offer_parser.Offer(
        produce=produce,
        quantity=Decimal(quantity),
        unit=unit,
        unit_price=Decimal(price),
        total_price=None,
        currency=local_currency(),
        location=None,
        language=ctx.language,
    )


def _how_many(ctx: Context) -> str:
    return ctx.gettext(MSG_HOW_MANY) % {"unit": _unit_name(ctx)}


def _price_per(ctx: Context) -> str:
    return ctx.gettext(MSG_PRICE_PER) % {"unit": _unit_name(ctx), "currency": local_currency()}


def _summary(ctx: Context) -> str:
    draft = _draft(ctx)
    if draft is None:
        return ctx.gettext(GONE)
    return ctx.gettext(MSG_SELL_SUMMARY) % {
        "offer": market.describe(draft, ctx.language),
        "days": current_app.config["OFFER_DAYS"],
    }


def _consent_known(ctx: Context) -> bool:
    return _draft(ctx) is not None and market.shares_contact(ctx.db, ctx.msisdn) is not None


def _consent_unknown(ctx: Context) -> bool:
    return _draft(ctx) is not None and market.shares_contact(ctx.db, ctx.msisdn) is None


def _confirm(shares: bool | None) -> Effect:
    def effect(ctx: Context) -> None:
        ctx.data.pop(OFFERED, None)
        # The key the offer is stored under: the last screen finds it by this
        # even when a shortcut dial ran ``store`` on a copy of the data.
        ctx.data[OFFER_KEY] = ctx.effect_key()

        def store(ctx: Context) -> None:
            _make_offer(ctx, shares)

        store.__name__ = f"make_offer_{shares}"
        ctx.run(store)

    effect.__name__ = f"confirm_{shares}"
    return effect


def _make_offer(ctx: Context, shares: bool | None) -> None:
    """Store the offer once per session and path, then SMS it to the seller."""
    from workers import SMS, enqueue
    from workers.sms import send_sms

    draft = _draft(ctx)
    if draft is None:
        return
    if shares is not None:
        market.set_shares_contact(ctx.db, ctx.msisdn, shares)
    now = utcnow()
    made = market.create_offer(
        ctx.db,
        msisdn=ctx.msisdn,
        parsed=draft,
        inbound_id=None,
        now=now,
        days=current_app.config["OFFER_DAYS"],
        region=current_app.config["DEFAULT_REGION"],
        dedup_key=ctx.effect_key(),
    )
    ctx.db.commit()
    offer = made.offer
    ctx.data[OFFERED] = offer.id
    body = ctx.gettext(MSG_OFFER) % {"n": offer.id, "offer": market.describe(offer, ctx.language)}
    queued = queue_sms(ctx.db, msisdn=ctx.msisdn, body=body, dedup_key=f"offer:{offer.id}")
    if queued.pending:
        enqueue(SMS, send_sms, queued.id)


def _offered_body(ctx: Context) -> str:
    offer = ctx.db.get(ProduceOffer, ctx.data.get(OFFERED, 0))
    if offer is None and ctx.data.get(OFFER_KEY):
        offer = ctx.db.scalars(
            select(ProduceOffer).where(ProduceOffer.dedup_key == ctx.data[OFFER_KEY])
        ).first()
    if offer is None:
        return ctx.gettext(GONE)
    return ctx.gettext(MSG_OFFERED) % {"n": offer.id}


STATES = [
    State(
        "sell_produce",
        MSG_WHAT_PRODUCE,
        items=Items(_all_produce, key=PRODUCE, dest="sell_unit"),
        back="home",
    ),
    State(
        "sell_unit",
        MSG_WHICH_UNIT,
        items=Items(_units, key=UNIT, dest="sell_quantity"),
        back="sell_produce",
    ),
    State(
        "sell_quantity",
        produce_label,
        body=_how_many,
        input=Input(
            accept=_accept_quantity,
            dest="sell_price",
            hints=translated(MSG_NUMBER_HINT, MSG_TOO_LARGE),
        ),
        back="sell_unit",
    ),
    State(
        "sell_price",
        produce_label,
        body=_price_per,
        input=Input(
            accept=_accept_price,
            dest="sell_confirm",
            hints=translated(MSG_NUMBER_HINT, MSG_TOO_LARGE),
        ),
        back="sell_quantity",
    ),
    State(
        "sell_confirm",
        MSG_SELL,
        body=_summary,
        options=(
            Option(
                "1",
                MSG_CONFIRM,
                "offered",
                _confirm(None),
                when=_consent_known,
            ),
            Option(
                "1",
                MSG_CONFIRM_SHARE,
                "offered",
                _confirm(True),
                when=_consent_unknown,
            ),
            Option("2", MSG_CONFIRM_PRIVATE, "offered", _confirm(False), when=_consent_unknown),
        ),
        back="sell_price",
    ),
    State("offered", MSG_SELL, body=_offered_body, final=True),
]

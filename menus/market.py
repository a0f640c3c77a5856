"""Market: buy produce from farmers near you, sell yours step by step, see prices.

Buy: produce on offer → where (near me, my province, all areas) → the offers,
newest first → one offer → "Contact seller", which sends each side the other's
number by SMS when the seller agreed to share theirs (``domain.market``).
Sell: produce → unit → how many → price per unit → confirm; the first time, the
confirm screen also asks whether buyers may get the seller's number. Prices:
produce → where → the median price over 7 and 30 days (``domain.prices``) and
a weekly SMS of it. My offers: the caller's open offers, to mark sold or withdraw.

What the caller picks is kept in the session as ids (a produce's and a unit's
index in the vocabularies, an area's and an offer's id); every screen reads
the database again, so an offer sold meanwhile says so rather than failing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask import current_app
from sqlalchemy import select

from domain import market, offer_parser, prices
from domain.campaigns import areas_under
from domain.inbound import MSG_ALREADY, MSG_OFFER
from domain.sms import queue_sms
from domain.translation import N_
from menus.content import GONE
from menus.context import Context
from menus.menu import Effect, Input, Items, Menu, Option, Outcome, State, translated
from models import Area, AreaLevel, ContactRequest, OfferStatus, ProduceOffer, Subscriber
from models.base import utcnow

MSG_MARKET = N_("Market")
MSG_BUY = N_("Buy")
MSG_SELL = N_("Sell")
MSG_PRICES = N_("Prices")
MSG_MY_OFFERS = N_("My offers")
MSG_WHAT_PRODUCE = N_("Which produce?")
MSG_WHERE = N_("Where?")
MSG_NONE_ON_OFFER = N_("Nothing is on offer now. Please check again later.")
MSG_NO_OFFERS_HERE = N_("No offers here now. Try a wider area.")
MSG_NO_PRICES = N_("No prices yet. Please check again later.")
MSG_NEAR_ME = N_("Near me: %(area)s")
MSG_ALL_AREAS = N_("All areas")
MSG_COUNTED = N_("%(name)s (%(n)d)")
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
MSG_PRICE_BODY = N_("7 days: %(week)s\n30 days: %(month)s")
MSG_ALERT_ON = N_("Weekly SMS of this price")
MSG_ALERT_OFF = N_("Stop the weekly SMS")
MSG_ALERT_STARTED = N_("Each week you will get the price of %(produce)s by SMS.")
MSG_ALERT_STOPPED = N_("No more weekly SMS of %(produce)s.")
MSG_NO_OWN_OFFERS = N_("You have no open offers.")
MSG_OFFER_NUMBER = N_("Offer %(n)d.")
MSG_MARK_SOLD = N_("Sold")
MSG_WITHDRAW = N_("Withdraw")
MSG_MARKED_SOLD = N_("Offer %(n)d is marked sold.")
MSG_WITHDRAWN = N_("Offer %(n)d is withdrawn.")

#: Session keys.
PRODUCE, AREA, OFFER = "mk_produce", "mk_area", "mk_offer"
UNIT, QUANTITY, PRICE = "mk_unit", "mk_quantity", "mk_price"
CONTACTED, OFFERED, ALERTED = "mk_contacted", "mk_offered", "mk_alerted"
OFFER_KEY, CLOSING = "mk_offer_key", "mk_closing"
#: ``AREA`` when the caller chose every area.
EVERYWHERE = 0
#: Lists kept in the session as first shown (see ``_listed``).
LISTS = ("mk_list_produce", "mk_list_offers", "mk_list_mine")
#: Offers listed at most: nine screens are more than anyone pages through.
MAX_LISTED = 45

#: Amounts typed on a keypad: a quantity to the gram (3 decimals, as stored),
#: a price to the cent (2).
_QUANTITY = re.compile(r"\d{1,9}(\.\d{1,3})?")
_PRICE = re.compile(r"\d{1,9}(\.\d{1,2})?")


# -- what the caller picked -------------------------------------------------------------


def _produce(ctx: Context) -> str | None:
    names = offer_parser.all_produce()
    index = ctx.data.get(PRODUCE)
    return names[index] if isinstance(index, int) and 0 <= index < len(names) else None


def _produce_name(ctx: Context) -> str:
    produce = _produce(ctx)
    return offer_parser.produce_name(produce, ctx.language) if produce else ""


def _produce_items(names: Sequence[tuple[str, int]], ctx: Context) -> list[tuple[int, str]]:
    index = {name: i for i, name in enumerate(offer_parser.all_produce())}
    return [
        (
            index[name],
            ctx.gettext(MSG_COUNTED)
            % {"name": offer_parser.produce_name(name, ctx.language), "n": n},
        )
        for name, n in names
        if name in index
    ]


def _area_ids(ctx: Context) -> list[int] | None:
    """The chosen area and everything under it (None: every area)."""
    area = ctx.data.get(AREA, EVERYWHERE)
    if not area:
        return None
    return ctx.memo(("areas", area), lambda: areas_under(ctx.db, [area]))  # type: ignore[no-any-return]


def _home(ctx: Context) -> tuple[Area | None, Area | None]:
    """The caller's county and province, from their home village (None, None
    when it is not known)."""

    def find() -> tuple[Area | None, Area | None]:
        village = ctx.db.scalar(
            select(Subscriber.area_id).where(Subscriber.id == ctx.subscriber_id)
        )
        chain: list[Area] = []
        area = ctx.db.get(Area, village) if village is not None else None
        while area is not None:
            chain.append(area)
            area = ctx.db.get(Area, area.parent_id) if area.parent_id is not None else None
        county = next((a for a in chain if a.level is AreaLevel.COUNTY), None)
        province = next((a for a in chain if a.level is AreaLevel.PROVINCE), None)
        return county, province

    return ctx.memo("home", find)  # type: ignore[no-any-return]


def _area_choices(ctx: Context) -> list[tuple[int, str]]:
    """Near me (the county), the province, every area; a caller whose village is
    not known picks a province or every area."""
    county, province = _home(ctx)
    choices: list[tuple[int, str]] = []
    if county is not None:
        choices.append((county.id, ctx.gettext(MSG_NEAR_ME) % {"area": county.name}))
    if province is not None:
        choices.append((province.id, province.name))
    if not choices:
        provinces = ctx.db.scalars(
            select(Area).where(Area.level == AreaLevel.PROVINCE).order_by(Area.name)
        )
        choices = [(a.id, a.name) for a in provinces]
    choices.append((EVERYWHERE, ctx.gettext(MSG_ALL_AREAS)))
    return choices


def _listed(
    ctx: Context, key: str, load: Callable[[Context], list[tuple[int, str]]]
) -> list[tuple[int, str]]:
    """The list as the caller first saw it on this visit: item *n* stays what
    was shown as *n* however offers come and go meanwhile (an offer sold since
    says so on its own screen). Kept in the session under ``key`` until the
    caller comes to the list afresh (``_fresh``)."""
    kept = ctx.data.get(key)
    if isinstance(kept, list):
        return [(int(i), str(label)) for i, label in kept]
    items = load(ctx)
    ctx.data[key] = [[i, label] for i, label in items]
    return items


def _fresh(*keys: str) -> Effect:
    """Forget the kept lists ``keys``: the next screen lists afresh."""

    def effect(ctx: Context) -> None:
        for key in keys:
            ctx.data.pop(key, None)

    effect.__name__ = "fresh_" + "_".join(k.removeprefix("mk_list_") for k in keys)
    return effect


def _pick_area(ctx: Context) -> None:
    ctx.data.pop(OFFER, None)
    ctx.data.pop("mk_list_offers", None)


# -- buy ---------------------------------------------------------------------------------


def _produce_on_offer(ctx: Context) -> list[tuple[int, str]]:
    return _listed(
        ctx,
        "mk_list_produce",
        lambda ctx: _produce_items(market.produce_on_offer(ctx.db, None, utcnow()), ctx),
    )


def _age(ctx: Context, created: datetime, now: datetime) -> str:
    days = (now - created).days
    return ctx.gettext(MSG_TODAY) if days < 1 else ctx.gettext(MSG_DAYS_AGO) % {"n": days}


def _offers(ctx: Context) -> list[tuple[int, str]]:
    return _listed(ctx, "mk_list_offers", _list_offers)


def _list_offers(ctx: Context) -> list[tuple[int, str]]:
    produce = _produce(ctx)
    if produce is None:
        return []
    now = utcnow()
    found = market.open_offers(ctx.db, produce, _area_ids(ctx), now, limit=MAX_LISTED)
    lines = []
    for offer in found:
        quantity = market.amount(offer.quantity, ctx.language)
        unit = offer_parser.unit_name(offer.unit, ctx.language)
        price = market.price_text(offer, ctx.language)
        place = market.place_of(ctx.db, offer)
        lines.append(
            (offer.id, f"{quantity} {unit} {price}, {place}, {_age(ctx, offer.created_at, now)}")
        )
    return lines


def _offer(ctx: Context) -> ProduceOffer | None:
    offer = ctx.db.get(ProduceOffer, ctx.data.get(OFFER, 0))
    if offer is None or offer.status is not OfferStatus.OPEN or offer.expires_at <= utcnow():
        return None
    return offer


def _offer_title(ctx: Context) -> str:
    offer = _offer(ctx)
    return market.describe(offer, ctx.language) if offer is not None else ctx.gettext(GONE)


def _offer_body(ctx: Context) -> str:
    offer = _offer(ctx)
    if offer is None:
        return ""
    text = ctx.gettext(MSG_OFFER_BODY) % {
        "place": market.place_of(ctx.db, offer),
        "age": _age(ctx, offer.created_at, utcnow()),
        "n": offer.id,
    }
    if not market.shares_contact(ctx.db, offer.msisdn):
        text += " " + ctx.gettext(MSG_PRIVATE)
    return text


def _can_contact(ctx: Context) -> bool:
    offer = _offer(ctx)
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


# -- sell --------------------------------------------------------------------------------


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


def _start_sell(ctx: Context) -> None:
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


def _currency() -> str:
    return market.local_currency(current_app.config["DEFAULT_REGION"])


def _draft(ctx: Context) -> offer_parser.Offer | None:
    """The offer as the caller has entered it so far, when complete."""
    produce, unit = _produce(ctx), _unit(ctx)
    quantity, price = ctx.data.get(QUANTITY), ctx.data.get(PRICE)
    if produce is None or unit is None or quantity is None or price is None:
        return None
    return offer_parser.Offer(
        produce=produce,
        quantity=Decimal(quantity),
        unit=unit,
        unit_price=Decimal(price),
        total_price=None,
        currency=_currency(),
        location=None,
        language=ctx.language,
    )


def _how_many(ctx: Context) -> str:
    return ctx.gettext(MSG_HOW_MANY) % {"unit": _unit_name(ctx)}


def _price_per(ctx: Context) -> str:
    return ctx.gettext(MSG_PRICE_PER) % {"unit": _unit_name(ctx), "currency": _currency()}


def _summary(ctx: Context) -> str:
    draft = _draft(ctx)
    if draft is None:
        return ctx.gettext(GONE)
    produce = offer_parser.produce_name(draft.produce, ctx.language)
    quantity = market.amount(draft.quantity, ctx.language)
    price = market.amount(draft.unit_price or Decimal(0), ctx.language)
    unit = offer_parser.unit_name(draft.unit, ctx.language)
    offer = f"{produce} {quantity} {unit} @ {draft.currency} {price}/{unit}"
    return ctx.gettext(MSG_SELL_SUMMARY) % {
        "offer": offer,
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


# -- prices ------------------------------------------------------------------------------


def _priced_produce(ctx: Context) -> list[tuple[int, str]]:
    return _listed(
        ctx,
        "mk_list_produce",
        lambda ctx: _produce_items(
            prices.priced_produce(ctx.db, utcnow(), max(prices.WINDOWS)), ctx
        ),
    )


def _medians(ctx: Context) -> tuple[prices.Median, ...]:
    def compute() -> tuple[prices.Median, ...]:
        produce = _produce(ctx)
        if produce is None:
            return ()
        now = utcnow()
        return tuple(
            prices.median_price(ctx.db, produce, _area_ids(ctx), now, days)
            for days in prices.WINDOWS
        )

    return ctx.memo("medians", compute)  # type: ignore[no-any-return]


def _price_title(ctx: Context) -> str:
    area = ctx.db.get(Area, ctx.data.get(AREA) or 0)
    place = area.name if area is not None else ctx.gettext(MSG_ALL_AREAS)
    return f"{_produce_name(ctx)}, {place}"


def _price_body(ctx: Context) -> str:
    found = _medians(ctx)
    if len(found) != 2:
        return ctx.gettext(GONE)
    week, month = found
    return ctx.gettext(MSG_PRICE_BODY) % {
        "week": week.text(ctx.language),
        "month": month.text(ctx.language),
    }


def _alerted(ctx: Context) -> bool:
    """Whether the caller gets this produce's weekly price over this area (an
    alert over another area is moved here by subscribing)."""
    produce = _produce(ctx)
    if produce is None:
        return False
    alerts: dict[str, int | None] = ctx.memo(
        "alerts", lambda: prices.alerts_of(ctx.db, ctx.subscriber_id)
    )
    return produce in alerts and alerts[produce] == (ctx.data.get(AREA) or None)


def _not_alerted(ctx: Context) -> bool:
    return _produce(ctx) is not None and not _alerted(ctx)


def _set_alert(wanted: bool) -> Effect:
    def effect(ctx: Context) -> None:
        ctx.data[ALERTED] = wanted

        def store(ctx: Context) -> None:
            produce = _produce(ctx)
            if produce is None:
                return
            if wanted:  # the price the caller is looking at, weekly
                prices.subscribe(ctx.db, ctx.subscriber_id, produce, ctx.data.get(AREA) or None)
            else:
                prices.unsubscribe(ctx.db, ctx.subscriber_id, produce)
            ctx.db.commit()

        store.__name__ = f"store_alert_{wanted}"
        ctx.run(store)

    effect.__name__ = f"alert_{wanted}"
    return effect


def _alert_body(ctx: Context) -> str:
    done = MSG_ALERT_STARTED if ctx.data.get(ALERTED) else MSG_ALERT_STOPPED
    return ctx.gettext(done) % {"produce": _produce_name(ctx)}


# -- my offers ---------------------------------------------------------------------------


def _own_offers(ctx: Context) -> list[tuple[int, str]]:
    return _listed(
        ctx,
        "mk_list_mine",
        lambda ctx: [
            (offer.id, market.describe(offer, ctx.language))
            for offer in market.offers_of(ctx.db, ctx.msisdn, utcnow())[:MAX_LISTED]
        ],
    )


def _own_offer(ctx: Context) -> ProduceOffer | None:
    offer = _offer(ctx)
    return offer if offer is not None and offer.msisdn == ctx.msisdn else None


def _own_title(ctx: Context) -> str:
    offer = _own_offer(ctx)
    return market.describe(offer, ctx.language) if offer is not None else ctx.gettext(GONE)


def _own_body(ctx: Context) -> str:
    offer = _own_offer(ctx)
    return ctx.gettext(MSG_OFFER_NUMBER) % {"n": offer.id} if offer is not None else ""


def _is_own(ctx: Context) -> bool:
    return _own_offer(ctx) is not None


def _close(status: OfferStatus) -> Effect:
    def effect(ctx: Context) -> None:
        ctx.data[CLOSING] = status.value

        def store(ctx: Context) -> None:
            market.close_offer(
                ctx.db,
                msisdn=ctx.msisdn,
                offer_id=ctx.data.get(OFFER, 0),
                status=status,
                now=utcnow(),
            )
            ctx.db.commit()

        store.__name__ = f"store_{status.value}"
        ctx.run(store)

    effect.__name__ = f"close_{status.value}"
    return effect


def _closed_body(ctx: Context) -> str:
    """What became of the offer: marked as asked, or closed before (sold by SMS,
    expired) — read from the database, not assumed."""
    offer = ctx.db.get(ProduceOffer, ctx.data.get(OFFER, 0))
    if offer is None or offer.msisdn != ctx.msisdn:
        return ctx.gettext(GONE)
    n = {"n": offer.id}
    if offer.status.value != ctx.data.get(CLOSING):
        return ctx.gettext(MSG_ALREADY) % n
    done = MSG_MARKED_SOLD if offer.status is OfferStatus.SOLD else MSG_WITHDRAWN
    return ctx.gettext(done) % n


MENU = Menu(
    name="market",
    states=[
        State(
            "home",
            MSG_MARKET,
            options=(
                Option("1", MSG_BUY, "buy_produce", _fresh(*LISTS)),
                Option("2", MSG_SELL, "sell_produce", _start_sell),
                Option("3", MSG_PRICES, "price_produce", _fresh(*LISTS)),
                Option("4", MSG_MY_OFFERS, "mine", _fresh(*LISTS)),
            ),
            back="main:home",
        ),
        # Buy
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
            items=Items(_area_choices, key=AREA, dest="buy_offers", effect=_pick_area),
            back="buy_produce",
        ),
        State(
            "buy_offers",
            _produce_name,
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
        # Sell
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
            _produce_name,
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
            _produce_name,
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
                # Key 1 means what the screen showed: guards route as ``when`` shows.
                Option(
                    "1",
                    MSG_CONFIRM,
                    "offered",
                    _confirm(None),
                    when=_consent_known,
                    guard=_consent_known,
                ),
                Option(
                    "1",
                    MSG_CONFIRM_SHARE,
                    "offered",
                    _confirm(True),
                    when=_consent_unknown,
                    guard=_consent_unknown,
                ),
                Option("2", MSG_CONFIRM_PRIVATE, "offered", _confirm(False), when=_consent_unknown),
            ),
            back="sell_price",
        ),
        State("offered", MSG_SELL, body=_offered_body, final=True),
        # Prices
        State(
            "price_produce",
            MSG_WHAT_PRODUCE,
            items=Items(_priced_produce, key=PRODUCE, dest="price_area"),
            back="home",
            empty=MSG_NO_PRICES,
        ),
        State(
            "price_area",
            MSG_WHERE,
            items=Items(_area_choices, key=AREA, dest="price"),
            back="price_produce",
        ),
        State(
            "price",
            _price_title,
            body=_price_body,
            options=(
                Option(
                    "1",
                    MSG_ALERT_ON,
                    "alert",
                    _set_alert(True),
                    when=_not_alerted,
                    guard=_not_alerted,
                ),
                Option(
                    "1", MSG_ALERT_OFF, "alert", _set_alert(False), when=_alerted, guard=_alerted
                ),
            ),
            back="price_area",
        ),
        State("alert", MSG_PRICES, body=_alert_body, back="price"),
        # My offers
        State(
            "mine",
            MSG_MY_OFFERS,
            items=Items(_own_offers, key=OFFER, dest="my_offer"),
            back="home",
            empty=MSG_NO_OWN_OFFERS,
        ),
        State(
            "my_offer",
            _own_title,
            body=_own_body,
            options=(
                Option("1", MSG_MARK_SOLD, "closed", _close(OfferStatus.SOLD), when=_is_own),
                Option("2", MSG_WITHDRAW, "closed", _close(OfferStatus.CANCELLED), when=_is_own),
            ),
            back="mine",
        ),
        State("closed", MSG_MY_OFFERS, body=_closed_body, back="mine"),
    ],
)

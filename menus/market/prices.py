"""Market → Prices: produce with offers in the last 30 days → where → the median
asking price over 7 and 30 days (``domain.prices``), and a weekly SMS of it."""

from __future__ import annotations

from domain import prices
from domain.translation import N_
from menus.content import GONE
from menus.context import Context
from menus.market.picks import (
    ALERTED,
    AREA,
    MSG_ALL_AREAS,
    MSG_PRICES,
    MSG_WHAT_PRODUCE,
    MSG_WHERE,
    PRODUCE,
    area_choices,
    chosen_area_ids,
    chosen_produce,
    listed,
    produce_items,
    produce_label,
)
from menus.menu import Effect, Items, Option, State
from models import Area
from models.base import utcnow

MSG_NO_PRICES = N_("No prices yet. Please check again later.")
MSG_PRICE_BODY = N_("7 days: %(week)s\n30 days: %(month)s")
MSG_ALERT_ON = N_("Weekly SMS of this price")
MSG_ALERT_OFF = N_("Stop the weekly SMS")
MSG_ALERT_STARTED = N_("Each week you will get the price of %(produce)s by SMS.")
MSG_ALERT_STOPPED = N_("No more weekly SMS of %(produce)s.")


def _priced_produce(ctx: Context) -> list[tuple[int, str]]:
    return listed(
        ctx,
        "mk_list_produce",
        lambda ctx: produce_items(
            prices.priced_produce(ctx.db, utcnow(), max(prices.WINDOWS)), ctx
        ),
    )


def _medians(ctx: Context) -> tuple[prices.Median, ...]:
    def compute() -> tuple[prices.Median, ...]:
        produce = chosen_produce(ctx)
        if produce is None:
            return ()
        now = utcnow()
        return tuple(
            prices.median_price(ctx.db, produce, chosen_area_ids(ctx), now, days)
            for days in prices.WINDOWS
        )

    return ctx.memo("medians", compute)  # type: ignore[no-any-return]


def _price_title(ctx: Context) -> str:
    area = ctx.db.get(Area, ctx.data.get(AREA) or 0)
    place = area.name if area is not None else ctx.gettext(MSG_ALL_AREAS)
    return f"{produce_label(ctx)}, {place}"


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
    produce = chosen_produce(ctx)
    if produce is None:
        return False
    alerts: dict[str, int | None] = ctx.memo(
        "alerts", lambda: prices.alerts_of(ctx.db, ctx.subscriber_id)
    )
    return produce in alerts and alerts[produce] == (ctx.data.get(AREA) or None)


def _not_alerted(ctx: Context) -> bool:
    return chosen_produce(ctx) is not None and not _alerted(ctx)


def _set_alert(wanted: bool) -> Effect:
    def effect(ctx: Context) -> None:
        ctx.data[ALERTED] = wanted

        def store(ctx: Context) -> None:
            produce = chosen_produce(ctx)
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
    return ctx.gettext(done) % {"produce": produce_label(ctx)}


STATES = [
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
        items=Items(area_choices, key=AREA, dest="price"),
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
            ),
            Option("1", MSG_ALERT_OFF, "alert", _set_alert(False), when=_alerted),
        ),
        back="price_area",
    ),
    State("alert", MSG_PRICES, body=_alert_body, back="price"),
]

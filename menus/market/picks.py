"""What a Market caller has picked so far, and the lists they pick from.

Picks are kept in the session as ids: a produce's index in the vocabulary
(``vocabularies/produce.yaml``), an area's id (``EVERYWHERE`` for all areas), an
offer's id. Lists are kept as first shown (``listed``), so item *n* stays what
the caller saw as *n* while offers come and go.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import current_app
from sqlalchemy import select

from domain import market, offer_parser
from domain.areas import enclosing
from domain.campaigns import areas_under
from domain.translation import N_
from menus.context import Context
from menus.menu import Effect
from models import Area, AreaLevel, Subscriber

MSG_MARKET = N_("Market")
MSG_BUY = N_("Buy")
MSG_SELL = N_("Sell")
MSG_PRICES = N_("Prices")
MSG_MY_OFFERS = N_("My offers")
MSG_WHAT_PRODUCE = N_("Which produce?")
MSG_WHERE = N_("Where?")
MSG_NEAR_ME = N_("Near me: %(area)s")
MSG_ALL_AREAS = N_("All areas")
MSG_COUNTED = N_("%(name)s (%(n)d)")

#: Session keys.
PRODUCE, AREA, OFFER = "mk_produce", "mk_area", "mk_offer"
UNIT, QUANTITY, PRICE = "mk_unit", "mk_quantity", "mk_price"
CONTACTED, OFFERED, ALERTED = "mk_contacted", "mk_offered", "mk_alerted"
OFFER_KEY, CLOSING = "mk_offer_key", "mk_closing"
#: ``AREA`` when the caller chose every area.
EVERYWHERE = 0
#: Lists kept in the session as first shown (see ``listed``).
LISTS = ("mk_list_produce", "mk_list_offers", "mk_list_mine")
#: Offers listed at most: nine screens are more than anyone pages through.
MAX_LISTED = 45


def chosen_produce(ctx: Context) -> str | None:
    names = offer_parser.all_produce()
    index = ctx.data.get(PRODUCE)
    return names[index] if isinstance(index, int) and 0 <= index < len(names) else None


def produce_label(ctx: Context) -> str:
    produce = chosen_produce(ctx)
    return offer_parser.produce_name(produce, ctx.language) if produce else ""


def produce_items(names: Sequence[tuple[str, int]], ctx: Context) -> list[tuple[int, str]]:
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


def chosen_area_ids(ctx: Context) -> list[int] | None:
    """The chosen area and everything under it (None: every area)."""
    area = ctx.data.get(AREA, EVERYWHERE)
    if not area:
        return None
    return ctx.memo(("areas", area), lambda: areas_under(ctx.db, [area]))  # type: ignore[no-any-return]


def home_areas(ctx: Context) -> tuple[Area | None, Area | None]:
    """The caller's county and province, from their home village (None, None
    when it is not known)."""

    def find() -> tuple[Area | None, Area | None]:
        village = ctx.db.scalar(
            select(Subscriber.area_id).where(Subscriber.id == ctx.subscriber_id)
        )
        if village is None:
            return None, None
        return (
            enclosing(ctx.db, village, AreaLevel.COUNTY),
            enclosing(ctx.db, village, AreaLevel.PROVINCE),
        )

    return ctx.memo("home", find)  # type: ignore[no-any-return]


def area_choices(ctx: Context) -> list[tuple[int, str]]:
    """Near me (the county), the province, every area; a caller whose village is
    not known picks a province or every area."""
    county, province = home_areas(ctx)
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


def listed(
    ctx: Context, key: str, load: Callable[[Context], list[tuple[int, str]]]
) -> list[tuple[int, str]]:
    """The list as the caller first saw it on this visit: item *n* stays what
    was shown as *n* however offers come and go meanwhile (an offer sold since
    says so on its own screen). Kept in the session under ``key`` until the
    caller comes to the list afresh (``fresh``)."""
    kept = ctx.data.get(key)
    if isinstance(kept, list):
        return [(int(i), str(label)) for i, label in kept]
    items = load(ctx)
    ctx.data[key] = [[i, label] for i, label in items]
    return items


def fresh(*keys: str) -> Effect:
    """Forget the kept lists ``keys``: the next screen lists afresh."""

    def effect(ctx: Context) -> None:
        for key in keys:
            ctx.data.pop(key, None)

    effect.__name__ = "fresh_" + "_".join(k.removeprefix("mk_list_") for k in keys)
    return effect


def pick_area(ctx: Context) -> None:
    ctx.data.pop(OFFER, None)
    ctx.data.pop("mk_list_offers", None)


def local_currency() -> str:
    """The currency buyers here pay in (``DEFAULT_REGION``'s): offers in others
    are not listed to them."""
    return market.local_currency(current_app.config["DEFAULT_REGION"])

"""Market: buy produce from farmers near you, sell yours step by step, see prices.

One menu, its screens by journey: ``buy`` (produce on offer → where → offers →
Contact seller), ``sell`` (produce → unit → how many → price → confirm),
``prices`` (median prices over 7 and 30 days, weekly SMS of them) and ``mine``
(the caller's open offers: sold or withdraw). ``picks`` holds what the caller
has picked and the lists they pick from, kept in the session as first shown.
Every screen reads the database again, so an offer sold meanwhile says so
rather than failing. The rules are in ``domain.market`` and ``domain.prices``.
"""

from __future__ import annotations

from menus.market import buy, mine, prices, sell
from menus.market.buy import CONTACT_OUTCOMES
from menus.market.picks import (
    AREA,
    CONTACTED,
    LISTS,
    MSG_BUY,
    MSG_MARKET,
    MSG_MY_OFFERS,
    MSG_PRICES,
    MSG_SELL,
    OFFER,
    OFFERED,
    PRICE,
    PRODUCE,
    QUANTITY,
    UNIT,
    fresh,
)
from menus.market.sell import start_sell
from menus.menu import Menu, Option, State

__all__ = [
    "AREA",
    "CONTACTED",
    "CONTACT_OUTCOMES",
    "MENU",
    "OFFER",
    "OFFERED",
    "PRICE",
    "PRODUCE",
    "QUANTITY",
    "UNIT",
]

MENU = Menu(
    name="market",
    states=[
        State(
            "home",
            MSG_MARKET,
            options=(
                Option("1", MSG_BUY, "buy_produce", fresh(*LISTS)),
                Option("2", MSG_SELL, "sell_produce", start_sell),
                Option("3", MSG_PRICES, "price_produce", fresh(*LISTS)),
                Option("4", MSG_MY_OFFERS, "mine", fresh(*LISTS)),
            ),
            back="main:home",
        ),
        *buy.STATES,
        *sell.STATES,
        *prices.STATES,
        *mine.STATES,
    ],
)

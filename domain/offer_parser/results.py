"""What ``parse`` returns for one SMS: an ``Offer`` to sell, a ``Command``, an
``Unclear`` offer whose amounts must be asked about, or ``Unparseable`` text;
``Parsed`` is any of the four."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Offer:
    """An offer to sell. ``quantity`` is in ``unit`` (a canonical unit of
    ``vocabularies/units.yaml``); at most one of ``unit_price`` (per ``unit``) and
    ``total_price`` is set, neither only when the text says the price is
    negotiable. ``currency`` is ISO 4217 when a currency word was written."""

    produce: str
    quantity: Decimal
    unit: str
    unit_price: Decimal | None
    total_price: Decimal | None
    currency: str | None
    location: str | None
    language: str


@dataclass(frozen=True, slots=True)
class Command:
    """HELP, STOP, START, JOBS, LANG (``arg`` a language code), CANCEL and SOLD
    (``arg`` the offer number, digits) or ALERT (``arg`` a canonical produce);
    ``arg`` is None when absent or not understood."""

    command: str
    arg: str | None
    language: str


@dataclass(frozen=True, slots=True)
class Unclear:
    """Looks like an offer but an amount is missing, ambiguous or impossible.
    ``problem``: negative_quantity, negative_price, ambiguous_number,
    unknown_produce, no_quantity, zero_quantity, too_large,
    conflicting_quantities, unit_mismatch, conflicting_prices, zero_price or
    no_price. ``understood`` holds what was read (produce, quantity, unit,
    unit_price, total_price, currency, location; ``number``: the ambiguous one
    as written), for the reply to repeat."""

    problem: str
    understood: dict[str, object]
    language: str


@dataclass(frozen=True, slots=True)
class Unparseable:
    """Not an offer nor a command; ``language`` is the best guess for the reply."""

    language: str


Parsed = Offer | Command | Unclear | Unparseable

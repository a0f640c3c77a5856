"""Market over USSD: sell step by step, buy and contact a seller, prices and
weekly alerts, and the caller's own offers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from freezegun import freeze_time
from sqlalchemy import select

from app.db import db_session
from domain import market, offer_parser
from domain.subscribers import get_or_create_subscriber, set_home_area, set_language
from domain.translation import LANGUAGES, gettext_for
from menus import MENUS
from menus import market as market_menu
from menus.context import Context
from menus.engine import Engine
from menus.session import SessionState
from models import (
    Area,
    ContactRequest,
    OfferStatus,
    OutboundSms,
    PriceAlert,
    ProduceOffer,
    Subscriber,
)
from tests.factories import produce_offer
from tests.screens import check_every_page

SELLER = "+254700000601"
BUYER = "+254700000602"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _walk(dial: Any, session: str, *inputs: str, msisdn: str = SELLER) -> str:
    """Dial ``session`` input by input, as a phone does; the last screen."""
    body: str = dial(session, "", msisdn=msisdn).get_data(as_text=True)
    for i in range(1, len(inputs) + 1):
        body = dial(session, "*".join(inputs[:i]), msisdn=msisdn).get_data(as_text=True)
    return body


def _known(app: Flask, msisdn: str, village: str | None = None) -> None:
    """A subscriber who chose English (and lives in ``village``)."""
    with app.app_context():
        db = db_session()
        subscriber_id, _ = get_or_create_subscriber(db, msisdn)
        set_language(db, subscriber_id, "en")
        if village is not None:
            area = db.scalar(select(Area.id).where(Area.name == village))
            assert area is not None
            set_home_area(db, msisdn, area)
        db.commit()


def _offer(app: Flask, msisdn: str, village: str, price: str, *, shares: bool | None) -> int:
    _known(app, msisdn, village)
    with app.app_context():
        db = db_session()
        offer = produce_offer(db, msisdn, village, price=price, at=NOW)
        if shares is not None:
            market.set_shares_contact(db, msisdn, shares)
        db.commit()
        return offer.id


def _sms_to(app: Flask, msisdn: str) -> list[str]:
    with app.app_context():
        rows = db_session().scalars(
            select(OutboundSms.body).where(OutboundSms.msisdn == msisdn).order_by(OutboundSms.id)
        )
        return [body or "" for body in rows]


def test_the_main_menu_leads_to_the_market(dial: Any) -> None:
    assert _walk(dial, "m1", "1", "3") == (
        "CON Market\n1 Buy\n2 Sell\n3 Prices\n4 My offers\n0 Back"
    )


@freeze_time(NOW)
def test_sell_step_by_step_asks_consent_once_and_makes_one_offer(app: Flask, dial: Any) -> None:
    _known(app, SELLER, "Ahero")
    assert _walk(dial, "s1", "3", "2", "1") == (
        "CON Sold by which unit?\n1 kg\n2 tonne\n3 bag\n4 debe\n5 crate\n6 tray\n7 litre\n"
        "8 piece\n0 Back 00 Home"
    )
    assert _walk(dial, "s1", "3", "2", "1", "3") == "CON maize\nHow many bag?\n0 Back"
    assert _walk(dial, "s1", "3", "2", "1", "3", "2") == (
        "CON maize\nPrice per bag in KES?\n0 Back"
    )
    confirm = _walk(dial, "s1", "3", "2", "1", "3", "2", "3600")
    assert confirm == (
        "CON Sell\nmaize 2 bag @ KES 3,600/bag. Open 14 days.\n"
        "1 Confirm, buyers may call me\n2 Confirm, keep my number private\n0 Back 00 Home"
    )
    for _ in range(2):  # the gateway repeats the callback: one offer
        done = dial("s1", "3*2*1*3*2*3600*2", msisdn=SELLER).get_data(as_text=True)
    with app.app_context():
        db = db_session()
        [offer] = db.scalars(select(ProduceOffer)).all()
        assert (offer.produce, offer.quantity, offer.unit, offer.unit_price) == (
            "maize",
            Decimal("2"),
            "bag",
            Decimal("3600"),
        )
        assert (offer.price_per_kg, offer.currency, offer.status) == (
            Decimal("40"),
            "KES",
            OfferStatus.OPEN,
        )
        assert market.shares_contact(db, SELLER) is False
    assert done == f"END Sell\nOffer {offer.id} is open. We sent it to you by SMS."
    assert _sms_to(app, SELLER) == [
        f"Offer {offer.id}: maize 2 bag @ KES 3,600/bag. "
        f"Reply SOLD {offer.id} when sold, CANCEL {offer.id} to withdraw it."
    ]
    # Asked once: the next offer only confirms.
    assert _walk(dial, "s2", "3", "2", "1", "1", "50", "30") == (
        "CON Sell\nmaize 50 kg @ KES 30/kg. Open 14 days.\n1 Confirm\n0 Back 00 Home"
    )


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("abc", "Type a number, like 50 or 2.5"),
        ("2,5", "Type a number, like 50 or 2.5"),
        ("-5", "Type a number, like 50 or 2.5"),
        ("1.2.3", "Type a number, like 50 or 2.5"),
        ("999999999", "That number is too large."),
    ],
)
def test_a_quantity_that_is_not_a_number_gets_a_hint(
    app: Flask, dial: Any, typed: str, hint: str
) -> None:
    _known(app, SELLER)
    # The hint takes the title's place, above the same question.
    assert _walk(dial, "q", "3", "2", "1", "1", typed) == f"CON {hint}\nHow many kg?\n0 Back"


def test_a_price_beyond_any_real_offer_is_refused(app: Flask, dial: Any) -> None:
    _known(app, SELLER)
    assert _walk(dial, "p", "3", "2", "1", "1", "50", "999999999") == (
        "CON That number is too large.\nPrice per kg in KES?\n0 Back"
    )


@freeze_time(NOW + timedelta(days=2))
def test_buy_lists_offers_near_the_buyer_and_sends_both_numbers(app: Flask, dial: Any) -> None:
    near = _offer(app, "+254700000611", "Ahero", "30", shares=True)
    far = _offer(app, "+254700000612", "Ganze", "25", shares=True)
    private = _offer(app, "+254700000613", "Kombewa", "28", shares=None)
    _known(app, BUYER, "Katito")
    assert _walk(dial, "b", "3", "1", msisdn=BUYER) == (
        "CON Which produce?\n1 maize (3)\n0 Back 00 Home"
    )
    assert _walk(dial, "b", "3", "1", "1", msisdn=BUYER) == (
        "CON Where?\n1 Near me: Kisumu\n2 Nyanza\n3 All areas\n0 Back 00 Home"
    )
    # Newest first (these came at the same time: the last made first).
    assert _walk(dial, "b", "3", "1", "1", "1", msisdn=BUYER) == (
        "CON maize\n1 50 kg KES 28/kg, Kombewa, 2d ago\n2 50 kg KES 30/kg, Ahero, 2d ago\n"
        "0 Back 00 Home"
    )
    assert _walk(dial, "b2", "3", "1", "1", "3", msisdn=BUYER) == (
        "CON maize\n1 50 kg KES 28/kg, Kombewa, 2d ago\n2 50 kg KES 25/kg, Ganze, 2d ago\n"
        "3 50 kg KES 30/kg, Ahero, 2d ago\n0 Back 00 Home"
    )
    assert _walk(dial, "b3", "3", "1", "1", "3", "3", msisdn=BUYER) == (
        f"CON maize 50 kg @ KES 30/kg\nAhero, 2d ago. Offer {near}.\n1 Contact seller\n"
        "0 Back 00 Home"
    )
    for _ in range(2):
        done = dial("b3", "3*1*1*3*3*1", msisdn=BUYER).get_data(as_text=True)
    assert done == (
        "CON Contact seller\nWe sent you the seller's number by SMS, and yours to the seller.\n"
        "0 Back 00 Home"
    )
    assert _sms_to(app, BUYER) == [
        f"Ngazi offer {near}: maize 50 kg @ KES 30/kg, Ahero. Seller: +254700000611"
    ]
    assert _sms_to(app, "+254700000611") == [
        f"Ngazi: a buyer wants your offer {near} (maize 50 kg @ KES 30/kg). Call {BUYER}"
    ]
    again = _walk(dial, "b4", "3", "1", "1", "3", "3", "1", msisdn=BUYER)
    assert again.split("\n")[1] == "We sent you this seller's number before. Check your SMS."
    assert len(_sms_to(app, BUYER)) == 1
    # A seller who did not agree: no way to contact them, and it says why.
    assert _walk(dial, "b5", "3", "1", "1", "3", "1", msisdn=BUYER) == (
        f"CON maize 50 kg @ KES 28/kg\nKombewa, 2d ago. Offer {private}. "
        "The seller keeps their number private.\n0 Back 00 Home"
    )
    with app.app_context():
        assert (
            market.contact_seller(
                db_session(),
                offer_id=far,
                buyer_msisdn=BUYER,
                buyer_language="en",
                now=NOW,
                daily_limit=10,
            ).outcome
            == "sent"
        )


def test_contact_seller_refuses_own_closed_private_and_too_many(app: Flask) -> None:
    own = _offer(app, SELLER, "Ahero", "30", shares=True)
    private = _offer(app, "+254700000621", "Ahero", "30", shares=False)
    others = [_offer(app, f"+25470000063{i}", "Ahero", "30", shares=True) for i in range(3)]
    with app.app_context():
        db = db_session()

        def contact(offer_id: int, buyer: str = BUYER) -> str:
            return market.contact_seller(
                db,
                offer_id=offer_id,
                buyer_msisdn=buyer,
                buyer_language="en",
                now=NOW,
                daily_limit=2,
            ).outcome

        assert contact(own, SELLER) == "own"
        assert contact(private) == "private"
        assert contact(10_000_000) == "unknown"
        assert [contact(o) for o in others] == ["sent", "sent", "limit"]
        assert contact(others[0]) == "again"  # asking again is not a new number
        market.close_offer(
            db, msisdn="+254700000632", offer_id=others[2], status=OfferStatus.SOLD, now=NOW
        )
        assert contact(others[2], "+254700000699") == "closed"
        assert (
            db.scalar(select(ContactRequest.offer_id).where(ContactRequest.offer_id == private))
            is None
        )


@freeze_time(NOW)
def test_prices_show_medians_and_the_weekly_sms_can_be_switched(app: Flask, dial: Any) -> None:
    _offer(app, "+254700000641", "Ahero", "30", shares=None)
    _offer(app, "+254700000642", "Kombewa", "40", shares=None)
    _known(app, BUYER, "Katito")
    price = _walk(dial, "p", "3", "3", "1", "1", msisdn=BUYER)
    assert price == (
        "CON maize, Kisumu\n7 days: KES 35/kg (offers: 2)\n30 days: KES 35/kg (offers: 2)\n"
        "1 Weekly SMS of this price\n0 Back 00 Home"
    )
    assert _walk(dial, "p", "3", "3", "1", "1", "1", msisdn=BUYER) == (
        "CON Prices\nEach week you will get the price of maize by SMS.\n0 Back 00 Home"
    )
    with app.app_context():
        db = db_session()
        kisumu = db.scalar(select(Area.id).where(Area.name == "Kisumu"))
        rows = db.execute(
            select(PriceAlert.produce, PriceAlert.area_id)
            .join(Subscriber, Subscriber.id == PriceAlert.subscriber_id)
            .where(Subscriber.msisdn == BUYER)
        ).all()
        assert [tuple(r) for r in rows] == [("maize", kisumu)]
    assert _walk(dial, "p2", "3", "3", "1", "1", msisdn=BUYER).endswith(
        "1 Stop the weekly SMS\n0 Back 00 Home"
    )
    assert _walk(dial, "p2", "3", "3", "1", "1", "1", msisdn=BUYER) == (
        "CON Prices\nNo more weekly SMS of maize.\n0 Back 00 Home"
    )
    with app.app_context():
        assert db_session().scalars(select(PriceAlert)).all() == []


@freeze_time(NOW)
def test_my_offers_can_be_marked_sold_or_withdrawn(app: Flask, dial: Any) -> None:
    first = _offer(app, SELLER, "Ahero", "30", shares=None)
    second = _offer(app, SELLER, "Ahero", "32", shares=None)
    mine = _walk(dial, "o", "3", "4")
    assert mine == (
        "CON My offers\n1 maize 50 kg @ KES 32/kg\n2 maize 50 kg @ KES 30/kg\n0 Back 00 Home"
    )
    assert _walk(dial, "o", "3", "4", "2") == (
        f"CON maize 50 kg @ KES 30/kg\nOffer {first}.\n1 Sold\n2 Withdraw\n0 Back 00 Home"
    )
    assert _walk(dial, "o", "3", "4", "2", "1") == (
        f"CON My offers\nOffer {first} is marked sold.\n0 Back 00 Home"
    )
    assert _walk(dial, "o2", "3", "4", "1", "2") == (
        f"CON My offers\nOffer {second} is withdrawn.\n0 Back 00 Home"
    )
    with app.app_context():
        db = db_session()
        statuses = dict(db.execute(select(ProduceOffer.id, ProduceOffer.status)).all())
    assert statuses == {first: OfferStatus.SOLD, second: OfferStatus.CANCELLED}
    assert _walk(dial, "o3", "3", "4") == "CON My offers\nYou have no open offers.\n0 Back 00 Home"


def _market_contexts(offer_id: int) -> list[tuple[str, dict[str, Any]]]:
    longest = max(
        range(len(offer_parser.all_produce())), key=lambda i: len(offer_parser.all_produce()[i])
    )
    full = {
        market_menu.PRODUCE: longest,
        market_menu.UNIT: 3,
        market_menu.QUANTITY: "99999.5",
        market_menu.PRICE: "1234567.89",
        market_menu.OFFER: offer_id,
        market_menu.AREA: 0,
        market_menu.OFFERED: offer_id,
    }
    out: list[tuple[str, dict[str, Any]]] = []
    for state in MENUS["market"].states:
        out.append((state.name, dict(full)))
    for outcome in market_menu.CONTACT_OUTCOMES:
        out.append(("contacted", {**full, market_menu.CONTACTED: outcome}))
    return out


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_market_screen_fits_in_every_language(app: Flask, language: str) -> None:
    """Every state with the longest produce name and large amounts, each
    contact outcome, with an error or a notice above it, every page."""
    offer_id = _offer(app, SELLER, "Pap Onditi", "1234567.89", shares=False)
    engine: Engine = app.extensions["ngazi_ussd_engine"]
    checked = 0
    with app.app_context():
        db = db_session()
        for name, data in _market_contexts(offer_id):
            state = SessionState(SELLER, 1, language, "market", name, data=dict(data))
            ctx = Context("s", SELLER, 1, language, db, gettext_for(language), data=state.data)
            checked += check_every_page(engine, state, ctx, (name, data))
    assert checked >= len(MENUS["market"].states)


@freeze_time(NOW)
def test_a_list_keeps_what_the_caller_saw_while_offers_come_and_go(app: Flask, dial: Any) -> None:
    first = _offer(app, SELLER, "Ahero", "30", shares=None)
    second = _offer(app, SELLER, "Ahero", "32", shares=None)
    assert _walk(dial, "k", "3", "4") == (
        "CON My offers\n1 maize 50 kg @ KES 32/kg\n2 maize 50 kg @ KES 30/kg\n0 Back 00 Home"
    )
    # A newer offer arrives (by SMS) while the list is on the screen: 1 is still
    # the offer shown as 1, and it is the one marked sold.
    newer = _offer(app, SELLER, "Ahero", "35", shares=None)
    assert dial("k", "3*4*1*1", msisdn=SELLER).get_data(as_text=True) == (
        f"CON My offers\nOffer {second} is marked sold.\n0 Back 00 Home"
    )
    with app.app_context():
        statuses = dict(db_session().execute(select(ProduceOffer.id, ProduceOffer.status)).all())
    assert statuses == {first: OfferStatus.OPEN, second: OfferStatus.SOLD, newer: OfferStatus.OPEN}
    # Back on the list, as shown; coming to it afresh lists again.
    assert _walk(dial, "k2", "3", "4") == (
        "CON My offers\n1 maize 50 kg @ KES 35/kg\n2 maize 50 kg @ KES 30/kg\n0 Back 00 Home"
    )


@freeze_time(NOW)
def test_withdrawing_an_offer_sold_meanwhile_says_it_was_closed(app: Flask, dial: Any) -> None:
    offer = _offer(app, SELLER, "Ahero", "30", shares=None)
    _walk(dial, "w", "3", "4", "1")
    with app.app_context():
        db = db_session()
        market.close_offer(db, msisdn=SELLER, offer_id=offer, status=OfferStatus.SOLD, now=NOW)
        db.commit()
    assert dial("w", "3*4*1*2", msisdn=SELLER).get_data(as_text=True) == (
        f"CON My offers\nOffer {offer} is already closed.\n0 Back 00 Home"
    )


@freeze_time(NOW)
def test_a_shortcut_dial_sells_and_says_so(app: Flask, dial: Any) -> None:
    _known(app, SELLER, "Ahero")
    done = dial("sc", "3*2*1*1*50*30*2", msisdn=SELLER).get_data(as_text=True)
    with app.app_context():
        [offer] = db_session().scalars(select(ProduceOffer)).all()
    assert done == f"END Sell\nOffer {offer.id} is open. We sent it to you by SMS."


@freeze_time(NOW)
def test_a_shortcut_dial_contacts_the_seller_and_says_so(app: Flask, dial: Any) -> None:
    offer = _offer(app, "+254700000651", "Ahero", "30", shares=True)
    _known(app, BUYER, "Katito")
    done = dial("sc2", "3*1*1*1*1*1", msisdn=BUYER).get_data(as_text=True)
    assert done == (
        "CON Contact seller\nWe sent you the seller's number by SMS, and yours to the seller.\n"
        "0 Back 00 Home"
    )
    assert _sms_to(app, BUYER) == [
        f"Ngazi offer {offer}: maize 50 kg @ KES 30/kg, Ahero. Seller: +254700000651"
    ]


@freeze_time(NOW)
def test_a_seller_is_not_offered_to_contact_themself(app: Flask, dial: Any) -> None:
    offer = _offer(app, SELLER, "Ahero", "30", shares=True)
    assert _walk(dial, "own", "3", "1", "1", "3", "1") == (
        f"CON maize 50 kg @ KES 30/kg\nAhero, today. Offer {offer}.\n0 Back 00 Home"
    )


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("1.999", "Type a number, like 50 or 2.5"),  # prices are to the cent
        ("0.001", "Type a number, like 50 or 2.5"),
        ("0.00", "Type a number, like 50 or 2.5"),
    ],
)
def test_a_price_is_to_the_cent(app: Flask, dial: Any, typed: str, hint: str) -> None:
    _known(app, SELLER)
    assert _walk(dial, "c", "3", "2", "1", "1", "50", typed) == (
        f"CON {hint}\nPrice per kg in KES?\n0 Back"
    )
    assert _walk(dial, "c2", "3", "2", "1", "1", "2.125", "1.99").startswith(
        "CON Sell\nmaize 2.125 kg @ KES 1.99/kg."
    )


@freeze_time(NOW)
def test_an_alert_over_another_area_is_moved_not_stopped(app: Flask, dial: Any) -> None:
    _offer(app, "+254700000661", "Ahero", "30", shares=None)
    _known(app, BUYER, "Katito")
    _walk(dial, "a1", "3", "3", "1", "1", "1", msisdn=BUYER)  # Kisumu
    # Nyanza (the province): not this area's alert, so it offers one.
    nyanza = _walk(dial, "a2", "3", "3", "1", "2", msisdn=BUYER)
    assert nyanza.endswith("1 Weekly SMS of this price\n0 Back 00 Home")
    _walk(dial, "a2", "3", "3", "1", "2", "1", msisdn=BUYER)
    with app.app_context():
        db = db_session()
        nyanza_id = db.scalar(select(Area.id).where(Area.name == "Nyanza"))
        assert db.execute(select(PriceAlert.produce, PriceAlert.area_id)).all() == [
            ("maize", nyanza_id)
        ]


@freeze_time(NOW)
def test_buyers_see_offers_in_their_currency_and_a_missing_place_says_so(
    app: Flask, dial: Any
) -> None:
    with app.app_context():
        db = db_session()
        for msisdn, currency in (("+254700000671", "KES"), ("+254700000672", "XOF")):
            parsed = offer_parser.Offer(
                "maize", Decimal("2"), "bag", Decimal("4500"), None, currency, None, "en"
            )
            market.create_offer(
                db, msisdn=msisdn, parsed=parsed, inbound_id=None, now=NOW, days=14, region="KE"
            )
        db.commit()
    _known(app, BUYER)
    assert _walk(dial, "cur", "3", "1", "1", "4", msisdn=BUYER) == (
        "CON maize\n1 2 bag KES 4,500/bag, place not given, today\n0 Back 00 Home"
    )

"""Market prices: the median asking price of a produce over an area and a
window of days, and the weekly price-alert campaigns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask import Flask
from sqlalchemy import select

from app.db import db_session
from domain import campaigns, prices
from domain.subscribers import get_or_create_subscriber, opt_out, set_home_area
from models import Area, Campaign, CampaignStatus, OfferStatus, ProduceOffer
from tests.factories import produce_offer

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday


def _area(name: str) -> int:
    found = db_session().scalar(select(Area.id).where(Area.name == name))
    assert found is not None
    return int(found)


def _offer(
    msisdn: str,
    village: str | None,
    produce: str,
    quantity: str,
    unit: str,
    price: str,
    *,
    days_ago: float = 1,
    currency: str | None = None,
    status: OfferStatus = OfferStatus.OPEN,
) -> ProduceOffer:
    db = db_session()
    offer = produce_offer(
        db,
        msisdn,
        village,
        produce=produce,
        quantity=quantity,
        unit=unit,
        price=price,
        currency=currency,
        at=NOW - timedelta(days=days_ago),
    )
    offer.status = status
    db.commit()
    return offer


def test_the_median_is_per_kg_over_the_window_and_area(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        _offer("+254700000501", "Ahero", "maize", "50", "kg", "30")
        _offer("+254700000502", "Kombewa", "maize", "2", "bag", "3600", days_ago=3)  # 40/kg
        _offer("+254700000503", "Ahero", "maize", "10", "kg", "3000", days_ago=5)  # a typo
        _offer("+254700000504", "Ahero", "maize", "10", "kg", "20", days_ago=20)
        _offer("+254700000505", "Ahero", "maize", "10", "kg", "99", status=OfferStatus.CANCELLED)
        _offer("+254700000506", "Ganze", "maize", "10", "kg", "50")  # another county
        _offer("+254700000507", "Ahero", "beans", "10", "kg", "120")
        kisumu = campaigns.areas_under(db, [_area("Kisumu")])
        week = prices.median_price(db, "maize", kisumu, NOW, 7)
        month = prices.median_price(db, "maize", kisumu, NOW, 30)
        country = prices.median_price(db, "maize", None, NOW, 7)
        # 30, 40, 3000 → 40 (the typo does not move it); cancelled left out.
        assert (week.price, week.offers, week.currency, week.unit) == (
            Decimal("40"),
            3,
            "KES",
            "kg",
        )
        assert (month.price, month.offers) == (Decimal("35"), 4)  # 20, 30, 40, 3000
        assert (country.price, country.offers) == (Decimal("45"), 4)  # 30, 40, 50, 3000
        assert week.text("en") == "KES 40/kg (offers: 3)"
        none = prices.median_price(db, "onion", kisumu, NOW, 7)
        assert (none.price, none.offers, none.text("en")) == (None, 0, "no offers")


def test_without_weights_the_median_is_per_the_commonest_unit(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        _offer("+254700000511", "Ahero", "egg", "3", "tray", "360")
        _offer("+254700000512", "Ahero", "egg", "1", "tray", "400")
        _offer("+254700000513", "Ahero", "egg", "30", "piece", "15")
        _offer("+254700000514", "Ahero", "egg", "2", "tray", "5", currency="USD")  # minority
        found = prices.median_price(db, "egg", None, NOW, 7)
        assert (found.price, found.offers, found.unit, found.currency) == (
            Decimal("380"),
            2,
            "tray",
            "KES",
        )
        assert found.text("en") == "KES 380/tray (offers: 2)"


def test_priced_produce_counts_offers_in_the_window(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        _offer("+254700000521", "Ahero", "beans", "10", "kg", "100")
        _offer("+254700000522", "Ahero", "beans", "10", "kg", "110", days_ago=10)
        _offer("+254700000523", "Ahero", "maize", "10", "kg", "30")
        _offer("+254700000524", "Ahero", "onion", "10", "kg", "30", days_ago=40)
        assert prices.priced_produce(db, NOW, 30) == [("beans", 2), ("maize", 1)]


def _alert(msisdn: str, village: str | None, produce: str) -> int:
    db = db_session()
    subscriber_id, _ = get_or_create_subscriber(db, msisdn)
    if village is not None:
        set_home_area(db, msisdn, _area(village))
    prices.subscribe(db, subscriber_id, produce, home=True)
    db.commit()
    return subscriber_id


def test_weekly_alerts_are_one_campaign_per_produce_and_area_once_a_week(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        _offer("+254700000531", "Ahero", "maize", "50", "kg", "30")
        _offer("+254700000532", "Kombewa", "maize", "50", "kg", "34", days_ago=12)
        _alert("+254700000541", "Ahero", "maize")
        _alert("+254700000542", "Kombewa", "maize")
        _alert("+254700000543", None, "maize")  # no village: the whole country
        _alert("+254700000544", "Ahero", "onion")  # no onion offers: no campaign
        made = prices.weekly_campaigns(db, NOW, quiet_hours=None, price_per_part="KES 0.80")
        assert [(c.audience["price_alert"], c.status) for c in made] == [
            ({"produce": "maize", "area": None}, CampaignStatus.SCHEDULED),
            ({"produce": "maize", "area": _area("Kisumu")}, CampaignStatus.SCHEDULED),
        ]
        country, kisumu = made
        assert campaigns.render_for(kisumu, "en", None) == (
            "Ngazi prices, maize in Kisumu: 7 days KES 30/kg (offers: 1). "
            "30 days KES 32/kg (offers: 2)."
        )
        assert campaigns.render_for(country, "en", None) == (
            "Ngazi prices, maize in all areas: 7 days KES 30/kg (offers: 1). "
            "30 days KES 32/kg (offers: 2)."
        )
        assert kisumu.estimate is not None and kisumu.estimate["recipients"] == 2
        assert country.estimate is not None and country.estimate["recipients"] == 1
        # Again the same week: nothing new. Next week: again.
        assert prices.weekly_campaigns(db, NOW, quiet_hours=None, price_per_part="KES 0.80") == []
        later = prices.weekly_campaigns(
            db, NOW + timedelta(days=7), quiet_hours=None, price_per_part="KES 0.80"
        )
        assert len(later) == 2
        assert db.scalar(select(Campaign.dedup_key).where(Campaign.id == later[1].id)) == (
            f"prices:maize:{_area('Kisumu')}:2026-W50"
        )


def test_an_audience_that_opted_out_gets_no_alert_campaign(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        _offer("+254700000551", "Ahero", "maize", "50", "kg", "30")
        _alert("+254700000552", "Ahero", "maize")
        opt_out(db, "+254700000552", "sms")
        db.commit()
        assert prices.weekly_campaigns(db, NOW, quiet_hours=None, price_per_part="KES 0.80") == []
        [cancelled] = db.scalars(select(Campaign)).all()
        assert cancelled.status is CampaignStatus.CANCELLED  # kept: the week is not tried again


def test_the_tick_schedules_the_weeks_alerts_once(app: Flask) -> None:
    from workers.campaigns import price_alerts

    with app.app_context():
        db = db_session()
        _offer("+254700000561", "Ahero", "maize", "50", "kg", "30")
        _alert("+254700000562", "Ahero", "maize")
        assert price_alerts(db, NOW) == 1
        # Remembered for the week: later ticks look at nothing.
        _alert("+254700000563", None, "maize")
        assert price_alerts(db, NOW + timedelta(hours=1)) == 0
        assert price_alerts(db, NOW + timedelta(days=7)) == 2

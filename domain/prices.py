"""Market prices: the median asking price of a produce in an area, and the
weekly price alerts villagers subscribe to.

A price is the median of what farmers asked (``ProduceOffer``) in a window of
days, over offers open, sold or expired (withdrawn ones are left out: a
withdrawn offer is often a typing mistake sent again). Prices are compared per
kilogram when the offers' units have a weight (``vocabularies/units.yaml``),
else per the unit most of them use (a tray of eggs, a litre of milk). The
median, not the mean: one farmer's typo (3000 for 30) moves a mean, not a
median. Offers in other currencies than the commonest are left out.

Weekly alerts are campaigns (``domain.campaigns``) with a ``price_alert``
audience, one per produce and area, created at the first tick of each ISO
week; the campaigns' quiet hours put their sending in the morning.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from domain import campaigns, offer_parser
from domain.areas import county_of
from domain.market import amount, most_offered
from domain.sql import upsert
from domain.translation import LANGUAGES, N_, gettext_for
from models import (
    Area,
    Campaign,
    CampaignStatus,
    OfferStatus,
    PriceAlert,
    ProduceOffer,
    Subscriber,
)

#: The windows the Prices screen and the alerts show, in days.
WINDOWS = (7, 30)

MSG_PRICE = N_("%(price)s (offers: %(n)d)")
MSG_ALERT = N_("Ngazi prices, %(produce)s in %(area)s: 7 days %(week)s. 30 days %(month)s.")
MSG_NO_OFFERS = N_("no offers")
MSG_COUNTRY = N_("all areas")


@dataclass(frozen=True)
class Median:
    """The median asking price over ``offers`` offers, in ``currency`` per
    ``unit`` (a canonical unit, ``"kg"`` when weights allow); ``price`` is
    None when there were no offers."""

    price: Decimal | None
    offers: int
    currency: str | None
    unit: str

    def text(self, language: str) -> str:
        """``"KES 32/kg (12 offers)"`` or "no offers", in ``language``."""
        gettext = gettext_for(language)
        if self.price is None:
            return gettext(MSG_NO_OFFERS)
        unit = offer_parser.unit_name(self.unit, language)
        price = f"{self.currency} {amount(self.price, language)}/{unit}"
        return gettext(MSG_PRICE) % {"price": price, "n": self.offers}


def median_price(
    db: Session, produce: str, area_ids: Sequence[int] | None, now: datetime, days: int
) -> Median:
    """The median asking price of ``produce`` over offers made in the ``days``
    days before ``now`` in ``area_ids`` (every area when None)."""
    query = select(
        ProduceOffer.price_per_kg,
        ProduceOffer.unit_price,
        ProduceOffer.total_price,
        ProduceOffer.quantity,
        ProduceOffer.unit,
        ProduceOffer.currency,
    ).where(
        ProduceOffer.produce == produce,
        ProduceOffer.created_at > now - timedelta(days=days),
        ProduceOffer.created_at <= now,
        ProduceOffer.status != OfferStatus.CANCELLED,
    )
    if area_ids is not None:
        query = query.where(ProduceOffer.area_id.in_(area_ids))
    rows = db.execute(query).all()
    if not rows:
        return Median(None, 0, None, "kg")
    currency = Counter(row.currency for row in rows).most_common(1)[0][0]
    rows = [row for row in rows if row.currency == currency]
    per_kg = [row.price_per_kg for row in rows if row.price_per_kg is not None]
    if per_kg:
        return Median(_median(per_kg), len(per_kg), currency, "kg")
    per_unit: dict[str, list[Decimal]] = {}
    for row in rows:
        price = row.unit_price
        if price is None and row.total_price is not None and row.quantity:
            price = row.total_price / row.quantity
        if price is not None:
            per_unit.setdefault(row.unit, []).append(price)
    if not per_unit:  # every offer said "price to agree"
        return Median(None, 0, currency, "kg")
    unit, prices = max(per_unit.items(), key=lambda item: (len(item[1]), item[0]))
    return Median(_median(prices), len(prices), currency, unit)


def priced_produce(db: Session, now: datetime, days: int) -> list[tuple[str, int]]:
    """``[(produce, offers), …]`` made in the ``days`` days before ``now`` (not
    withdrawn), the most offered first, then in ``produce.yaml``'s order."""
    rows = db.execute(
        select(ProduceOffer.produce, func.count())
        .where(
            ProduceOffer.created_at > now - timedelta(days=days),
            ProduceOffer.created_at <= now,
            ProduceOffer.status != OfferStatus.CANCELLED,
        )
        .group_by(ProduceOffer.produce)
    ).all()
    return most_offered(rows)


def _median(values: list[Decimal]) -> Decimal:
    """The median (``statistics.median`` of Decimals is exact: the mean of the
    middle two when their count is even), to the cent, or to three significant
    digits below one (a tonne at KES 4 is KES 0.004/kg, not 0)."""
    middle = Decimal(statistics.median(values))
    if middle >= 1 or middle == 0:
        return middle.quantize(Decimal("0.01"), ROUND_HALF_UP).normalize()
    digits = Decimal(1).scaleb(middle.adjusted() - 2)  # three significant digits
    return middle.quantize(digits, ROUND_HALF_UP).normalize()


# -- alerts -----------------------------------------------------------------------------


def alert_area(db: Session, home_area_id: int | None) -> int | None:
    """The area a subscriber's alert is priced over: the county of their home
    village (a village alone has too few offers), None (the whole country)
    when their village is not known."""
    return None if home_area_id is None else county_of(db, home_area_id)


def subscribe(
    db: Session,
    subscriber_id: int,
    produce: str,
    area_id: int | None = None,
    *,
    home: bool = False,
) -> int | None:
    """Subscribe to ``produce``'s weekly price over ``area_id`` (None: the whole
    country), or with ``home`` over the subscriber's county (``alert_area``).
    Subscribing again to the same produce moves the alert. Returns the alert's
    area id. Raises ``ValueError`` for an unknown produce. Does not commit."""
    if not offer_parser.is_produce(produce):
        raise ValueError(f"unknown produce {produce!r}")
    if home:
        village = db.scalar(select(Subscriber.area_id).where(Subscriber.id == subscriber_id))
        area_id = alert_area(db, village)
    stmt = upsert(db, PriceAlert).values(
        subscriber_id=subscriber_id, produce=produce, area_id=area_id
    )
    db.execute(
        stmt.on_conflict_do_update(
            index_elements=[PriceAlert.subscriber_id, PriceAlert.produce],
            set_={"area_id": area_id},
        )
    )
    return area_id


def unsubscribe(db: Session, subscriber_id: int, produce: str) -> bool:
    """Stop the alert; False when there was none. Does not commit."""
    gone = db.execute(
        delete(PriceAlert).where(
            PriceAlert.subscriber_id == subscriber_id, PriceAlert.produce == produce
        )
    ).rowcount  # type: ignore[attr-defined]
    return bool(gone)


def alerts_of(db: Session, subscriber_id: int) -> dict[str, int | None]:
    """``{produce: area id (None: the whole country)}`` of the weekly prices
    ``subscriber_id`` gets."""
    rows = db.execute(
        select(PriceAlert.produce, PriceAlert.area_id).where(
            PriceAlert.subscriber_id == subscriber_id
        )
    ).all()
    return {str(produce): area_id for produce, area_id in rows}


def week_of(now: datetime) -> str:
    """``"2026-W48"``: the ISO week (ISO 8601) of ``now``."""
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_campaigns(
    db: Session, now: datetime, *, quiet_hours: str | None, price_per_part: str
) -> list[Campaign]:
    """Create and schedule this ISO week's price-alert campaigns: one per produce
    and area that anyone subscribed to, with the 7- and 30-day medians in each
    language. None for a produce with no offers in 30 days (nothing to say), nor
    for an audience that has opted out entirely. Idempotent: a campaign's dedup
    key is ``prices:<produce>:<area>:<week>``. The campaigns' tick
    (``workers.campaigns.tick``) starts what this schedules. ``price_per_part``
    is ``SMS_PRICE_PER_PART`` (``"KES 0.80"``), for the estimate. Returns the
    campaigns scheduled by this call. Commits."""
    made: list[Campaign] = []
    pairs = db.execute(select(PriceAlert.produce, PriceAlert.area_id).distinct()).all()
    for produce, area_id in sorted(pairs, key=lambda p: (p[0], p[1] or 0)):
        key = f"prices:{produce}:{area_id or 'all'}:{week_of(now)}"
        if db.scalar(select(Campaign.id).where(Campaign.dedup_key == key)) is not None:
            continue
        area_ids = None if area_id is None else campaigns.areas_under(db, [area_id])
        week, month = (median_price(db, produce, area_ids, now, days) for days in WINDOWS)
        if month.price is None:
            continue
        area = db.get(Area, area_id) if area_id is not None else None
        messages = {}
        for language in LANGUAGES:
            place = area.name if area is not None else gettext_for(language)(MSG_COUNTRY)
            messages[language] = gettext_for(language)(MSG_ALERT) % {
                "produce": offer_parser.produce_name(produce, language),
                "area": place,
                "week": week.text(language),
                "month": month.text(language),
            }
        audience = campaigns.Audience(price_alert={"produce": produce, "area": area_id})
        campaign = campaigns.create_campaign(
            db,
            name=f"Prices {produce} {area.name if area else 'all'} {week_of(now)}",
            messages={k: _escape(v) for k, v in messages.items()},
            audience=audience,
            quiet_hours=quiet_hours,
            created_via="alerts",
            dedup_key=key,
        )
        if campaign.status is not CampaignStatus.DRAFT:
            continue
        estimate = campaigns.preview(db, campaign, price_per_part)
        if estimate.recipients == 0:
            campaigns.cancel(db, campaign)  # kept, so the week is not tried again
            continue
        campaigns.schedule(db, campaign, estimate)
        made.append(campaign)
    db.commit()
    return made


def _escape(text: str) -> str:
    """``text`` as a campaign template: braces doubled, so an area named
    "{x}" is printed, not taken for a placeholder."""
    return text.replace("{", "{{").replace("}", "}}")

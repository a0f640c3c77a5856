"""``/console/market``: median prices per produce, and the open offers, by produce
and county.

Read-only. Sellers' numbers are always shown masked (``+2547******01``), on the
page and in the CSV: nobody needs them in the console. The offers' CSV (sellers'
villages and masked numbers, leaving the server) is written to the audit log. A
supervisor sees offers made in their areas only (an offer whose village is not
known is in nobody's area).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from app.console import bp, row_id
from app.console.auth import current_console_user
from app.console.export import age_text, csv_response, mask_msisdn, pairs, wants_csv
from app.db import db_session
from app.webhook_auth import request_address
from domain import audit, offer_parser, prices
from domain.campaigns import areas_under
from domain.console_users import visible_areas
from domain.market import amount, open_offers_filter, places_of, price_text
from domain.prices import Median
from models import Area, AreaLevel, ContactRequest, OfferStatus, ProduceOffer, Subscriber
from models.base import utcnow

PAGE_SIZE = 50
#: The most offers one CSV holds (the newest).
EXPORT_LIMIT = 10_000
LANGUAGE = "en"  # the console's language


@dataclass(frozen=True)
class Filter:
    produce: str | None  # a canonical produce name; None: every produce
    county: int | None  # an area id among ``counties``; None: every visible area
    area_ids: list[int] | None  # the areas offers are taken from; None: all
    counties: list[tuple[int, str]]  # the choices, ``(id, "Province / County")``


def _filter(db: Session) -> Filter:
    """The form's choices and what ``?produce=&area=`` ask (unknown values: all)."""
    visible = visible_areas(db, current_console_user())
    province = aliased(Area)
    rows = db.execute(
        select(Area.id, Area.name, province.name)
        .outerjoin(province, province.id == Area.parent_id)
        .where(Area.level == AreaLevel.COUNTY)
        .order_by(Area.name)
    ).all()
    counties = [
        (i, f"{above} / {name}" if above else name)
        for i, name, above in rows
        if visible is None or i in visible
    ]
    produce = request.args.get("produce") or None
    if produce not in offer_parser.all_produce():
        produce = None
    county = row_id(request.args.get("area"))
    if county not in {i for i, _ in counties}:
        county = None
    area_ids = visible
    if county is not None:
        under = areas_under(db, [county])
        area_ids = under if visible is None else [i for i in under if i in set(visible)]
    return Filter(produce, county, area_ids, counties)


def price_rows(
    db: Session, produce: str | None, area_ids: Sequence[int] | None, now: datetime
) -> list[tuple[str, Median, Median]]:
    """``[(produce, 7-day median, 30-day median), …]`` for each produce offered in
    the last 30 days in ``area_ids`` (withdrawn offers aside), in ``produce.yaml``'s
    order."""
    query = select(ProduceOffer.produce).distinct()
    query = query.where(
        ProduceOffer.created_at > now - timedelta(days=max(prices.WINDOWS)),
        ProduceOffer.created_at <= now,
        ProduceOffer.status != OfferStatus.CANCELLED,
    )
    if produce is not None:
        query = query.where(ProduceOffer.produce == produce)
    if area_ids is not None:
        query = query.where(ProduceOffer.area_id.in_(area_ids))
    found = set(db.scalars(query))
    rows = []
    for name in offer_parser.all_produce():
        if name in found:
            week, month = (prices.median_price(db, name, area_ids, now, d) for d in prices.WINDOWS)
            rows.append((name, week, month))
    return rows


def _median_text(median: Median) -> str:
    if median.price is None:
        return "—"
    unit = offer_parser.unit_name(median.unit, LANGUAGE)
    return f"{median.currency} {amount(median.price, LANGUAGE)}/{unit}"


def _offer_rows(db: Session, offers: Sequence[ProduceOffer], now: datetime) -> list[dict[str, str]]:
    """Each offer as the table shows it (numbers masked)."""
    ids = [o.id for o in offers]
    requests = pairs(
        db.execute(
            select(ContactRequest.offer_id, func.count())
            .where(ContactRequest.offer_id.in_(ids))
            .group_by(ContactRequest.offer_id)
        ).all()
    )
    sellers = {o.msisdn for o in offers}
    consent = pairs(
        db.execute(
            select(Subscriber.msisdn, Subscriber.shares_contact).where(
                Subscriber.msisdn.in_(sellers)
            )
        ).all()
    )
    places = places_of(db, offers, LANGUAGE)
    rows = []
    for offer in offers:
        shares = consent.get(offer.msisdn)
        rows.append(
            {
                "id": str(offer.id),
                "produce": offer_parser.produce_name(offer.produce, LANGUAGE),
                "quantity": f"{amount(offer.quantity, LANGUAGE)} "
                + offer_parser.unit_name(offer.unit, LANGUAGE),
                "price": price_text(offer, LANGUAGE),
                "place": places[offer.id],
                "age": age_text((now - offer.created_at).total_seconds()),
                "created": f"{offer.created_at:%Y-%m-%d %H:%M}",
                "seller": mask_msisdn(offer.msisdn),
                "shares": "not asked" if shares is None else "yes" if shares else "no",
                "requests": str(requests.get(offer.id, 0)),
            }
        )
    return rows


@bp.get("/market")
def market() -> ResponseReturnValue:
    """Prices and open offers; ``?produce=maize&area=<county id>&page=N``;
    ``&format=csv`` downloads the offers (``&table=prices``: the prices)."""
    db = db_session()
    now = utcnow()
    chosen = _filter(db)
    prices_table = [
        (offer_parser.produce_name(name, LANGUAGE), week, month)
        for name, week, month in price_rows(db, chosen.produce, chosen.area_ids, now)
    ]
    condition = open_offers_filter(chosen.produce, chosen.area_ids, now)
    newest = select(ProduceOffer).where(condition)
    newest = newest.order_by(ProduceOffer.created_at.desc(), ProduceOffer.id.desc())
    if wants_csv() and request.args.get("table") == "prices":
        return csv_response(
            "prices",
            ["produce", "currency", "unit", "median_7_days", "offers_7_days"]
            + ["median_30_days", "offers_30_days"],
            [
                (name, month.currency, month.unit, _plain(week.price), week.offers)
                + (_plain(month.price), month.offers)
                for name, week, month in prices_table
            ],
        )
    if wants_csv():
        offers = db.scalars(newest.limit(EXPORT_LIMIT)).all()
        audit.record(
            db,
            user=current_console_user(),
            action="market.offers",
            subject_type="offers",
            subject_id=chosen.county or "",
            detail={"rows": len(offers), "format": "csv", "produce": chosen.produce},
            address=request_address(),
        )
        keys = ["id", "produce", "quantity", "price", "place", "created", "seller", "shares"]
        return csv_response(
            "offers",
            [*keys[:5], "created_utc", "seller", "shares_number", "contact_requests"],
            [[row[k] for k in keys] + [row["requests"]] for row in _offer_rows(db, offers, now)],
        )
    total = db.scalar(select(func.count()).select_from(ProduceOffer).where(condition)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(row_id(request.args.get("page")) or 1, pages)
    offers = db.scalars(newest.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return render_template(
        "console/market.html",
        chosen=chosen,
        produce=[(p, offer_parser.produce_name(p, LANGUAGE)) for p in offer_parser.all_produce()],
        prices=[
            (name, _median_text(w), w.offers, _median_text(m), m.offers)
            for name, w, m in prices_table
        ],
        offers=_offer_rows(db, offers, now),
        page=page,
        pages=pages,
        total=total,
        limited=visible_areas(db, current_console_user()) is not None,
    )


def _plain(price: Decimal | None) -> str:
    return "" if price is None else f"{price:f}"

"""Named builders of test data (keyword overrides), shared by the tests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import classification as cl
from domain import market, offer_parser
from domain.subscribers import get_or_create_subscriber, set_home_area
from models import Area, ProduceOffer


def member(age: int, **answers: Any) -> dict[str, Any]:
    """A roster item with the keys the form asks at ``age``, all favourable by default."""
    item: dict[str, Any] = {
        "m_name": "M",
        "m_age": age,
        "m_sex": "female",
        "m_disability": "no",
        "m_chronic": "no",
        "m_insured": "yes",
    }
    if 6 <= age <= 15:
        item["m_in_school"] = "yes"
    if age >= 6:
        item["m_schooling"] = min(age - 6, 12)
    if age < 70:
        item["m_undernourished"] = "no"
    if 16 <= age <= 64:
        item["m_can_work"] = "yes"
        item["m_away"] = "no"
    item.update(answers)
    return item


def household(*members: dict[str, Any], **answers: Any) -> dict[str, Any]:
    """A household deprived in nothing, with ``answers`` overriding."""
    roster = list(members) or [member(40), member(38), member(9)]
    base: dict[str, Any] = {
        "head_name": "Wanjiru",
        "has_phone": "yes",
        "head_phone": "+254700000101",
        "members": len(roster),
        "member": roster,
        "child_died": "no",
        **dict.fromkeys(cl.FIES_ITEMS, "no"),
        "meals": 3,
        "water_source": "piped_dwelling",
        "water_treated": "yes",
        "toilet": "flush_septic",
        "toilet_shared": "no",
        "cooking_fuel": "lpg",
        "electricity": "yes",
        "floor": "finished",
        "roof": "finished",
        "walls": "finished",
        "house_safe": "yes",
        "clothing": "yes",
        "assets": ["radio", "phone"],
        "income": "5000_9999",
        "hardship": "capital",
    }
    base.update(answers)
    return base


DEMO_CADRE = "+254700000901"  # demo/staff.yaml: Achieng Odhiambo, PIN 2468
DEMO_PIN = "2468"


def create_completed_household(
    db: Any, *, cadre_msisdn: str = DEMO_CADRE, key: str | None = None, **answers: Any
) -> Any:
    """Complete a household survey through the domain (no USSD): the demo
    cadre's first village unless ``village`` is given. Returns ``Completed``."""
    import uuid

    from sqlalchemy import select

    from domain import surveys
    from domain.households import complete_survey
    from models import Cadre

    cadre = db.scalars(select(Cadre).where(Cadre.msisdn == cadre_msisdn)).one()
    answers.setdefault("village", str(cadre.villages[0].id))
    return complete_survey(
        db,
        key=key or f"test:{uuid.uuid4().hex}",
        cadre_id=cadre.id,
        survey_id=surveys.current_survey_id(db, "household"),
        round_id=surveys.current_round_id(db),
        answers=household(**answers),
    )


def produce_offer(
    db: Session,
    msisdn: str,
    village: str | None,
    *,
    produce: str = "maize",
    quantity: str = "50",
    unit: str = "kg",
    price: str = "30",
    currency: str | None = None,
    at: datetime,
) -> ProduceOffer:
    """An open offer by ``msisdn`` (a subscriber living in ``village`` when one
    is named) made at ``at``, through ``domain.market.create_offer`` as an SMS
    offer is. Does not commit."""
    get_or_create_subscriber(db, msisdn)
    if village is not None:
        area = db.scalar(select(Area.id).where(Area.name == village))
        assert area is not None, village
        set_home_area(db, msisdn, area)
    parsed = offer_parser.Offer(
        produce, Decimal(quantity), unit, Decimal(price), None, currency, None, "en"
    )
    made = market.create_offer(
        db, msisdn=msisdn, parsed=parsed, inbound_id=None, now=at, days=14, region="KE"
    )
    return made.offer


def resurvey_household(
    db: Any,
    household_id: int,
    *,
    round_id: int | None = None,
    cadre_msisdn: str = DEMO_CADRE,
    **answers: Any,
) -> Any:
    """Survey household ``household_id`` again through the domain (in ``round_id``,
    else the current round), with ``household(**answers)``. Returns ``Completed``."""
    import uuid

    from domain import surveys
    from domain.households import complete_survey
    from models import Cadre, Household

    cadre = db.scalars(select(Cadre).where(Cadre.msisdn == cadre_msisdn)).one()
    found = db.get(Household, household_id)
    answers.setdefault("village", str(found.area_id))
    return complete_survey(
        db,
        key=f"test:{uuid.uuid4().hex}",
        cadre_id=cadre.id,
        survey_id=surveys.current_survey_id(db, "household"),
        round_id=round_id if round_id is not None else surveys.current_round_id(db),
        answers=household(**answers),
        household_id=household_id,
    )

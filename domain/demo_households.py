"""Demo households: surveyed through the real survey pipeline, in two rounds.

``add_households`` answers the household survey (``surveys/household.xlsx``) for
made-up households in the demo villages, completes each through
``domain.households.complete_survey`` (so every classification is the real
one), once in an earlier round and again in the current round, where some lift
themselves out of poverty and a few fall in. Then it refreshes the console's
area figures. It gives a newcomer's console something to show on SQLite; the
national-scale population is ``flask demo generate`` (PostgreSQL).

Households get no phone number, so they reach no subscriber list.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import analytics, surveys
from domain.classification import FIES_ITEMS
from domain.households import complete_survey
from domain.surveys import SurveyError
from models import Area, AreaLevel, Cadre, Household, SurveyRound

EARLIER_ROUND = "2025"  # opened a year before the current round
GIVEN = ("Akinyi", "Wanjiru", "Otieno", "Mwangi", "Chebet", "Kiprop", "Atieno", "Barasa")
FAMILY = ("Odhiambo", "Kamau", "Wafula", "Njeri", "Mutua", "Onyango", "Wekesa", "Achieng")
KEY_PREFIX = "demo-household"


def _member(rng: random.Random, age: int, poor: float) -> dict[str, Any]:
    item: dict[str, Any] = {
        "m_name": rng.choice(GIVEN),
        "m_age": age,
        "m_sex": rng.choice(("female", "male")),
        "m_disability": "yes" if rng.random() < 0.05 else "no",
        "m_chronic": "yes" if rng.random() < 0.1 else "no",
        "m_insured": "no" if rng.random() < poor else "yes",
    }
    if 6 <= age <= 15:
        item["m_in_school"] = "no" if rng.random() < poor * 0.3 else "yes"
    if age >= 6:
        item["m_schooling"] = min(age - 6, rng.choice((2, 5, 8, 12)) if rng.random() < poor else 12)
    if age < 70:
        item["m_undernourished"] = "yes" if rng.random() < poor * 0.4 else "no"
    if 16 <= age <= 64:
        item["m_can_work"] = "yes"
        item["m_away"] = "no"
    return item


def answers(rng: random.Random, village_id: int, poor: float, head: str) -> dict[str, Any]:
    """One household's survey answers; ``poor`` (0–1) makes each deprivation likelier."""
    roster = [_member(rng, rng.randint(22, 75), poor)]
    roster += [_member(rng, rng.randint(0, 40), poor) for _ in range(rng.randint(0, 6))]
    roster[0]["m_name"] = head
    far = rng.random() < poor
    out: dict[str, Any] = {
        "village": str(village_id),
        "head_name": head,
        "has_phone": "no",
        "members": len(roster),
        "member": roster,
        "child_died": "yes" if rng.random() < poor * 0.2 else "no",
        **{item: ("yes" if rng.random() < poor * 0.5 else "no") for item in FIES_ITEMS},
        "meals": 1 if rng.random() < poor * 0.3 else 3,
        "water_source": rng.choice(("surface", "unprotected_well")) if far else "borehole",
        "water_treated": "no" if far else "yes",
        "toilet": "pit_no_slab" if rng.random() < poor else "pit_slab",
        "toilet_shared": "no",
        "cooking_fuel": "wood" if rng.random() < 0.5 + poor / 2 else "lpg",
        "electricity": "no" if rng.random() < poor else "yes",
        "floor": "earth" if rng.random() < poor else "finished",
        "roof": "finished",
        "walls": "finished",
        "house_safe": "no" if rng.random() < poor * 0.3 else "yes",
        "clothing": "no" if rng.random() < poor * 0.3 else "yes",
        "assets": ["none"] if rng.random() < poor * 0.5 else ["radio", "phone"],
        "income": "under_1000" if rng.random() < poor else "5000_9999",
        "hardship": rng.choice(("illness", "land", "water", "capital", "skills", "disaster")),
    }
    if out["water_source"] != "borehole" or rng.random() < 0.3:
        out["water_minutes"] = rng.choice((10, 20, 45, 60)) if far else 15
    else:
        out["water_minutes"] = 10
    return out


def add_households(db: Session, per_village: int = 6, *, seed: int = 2026) -> int:
    """Survey ``per_village`` made-up households in every village (by the cadre
    who covers it, else any), in round ``EARLIER_ROUND`` and again in the current round. Returns
    the number of households added: 0 when they are there already (idempotent).
    Raises ``SurveyError`` with no current round or survey definition."""
    if db.scalar(
        select(func.count()).select_from(Household).where(Household.head_name.like("% (demo)"))
    ):
        return 0
    current = db.get(SurveyRound, surveys.current_round_id(db))
    assert current is not None
    earlier = db.scalars(select(SurveyRound).where(SurveyRound.name == EARLIER_ROUND)).first()
    if earlier is None:
        earlier = SurveyRound(name=EARLIER_ROUND, opened_at=current.opened_at - timedelta(days=365))
        db.add(earlier)
        db.flush()
    survey_id = surveys.current_survey_id(db, "household")
    rng = random.Random(seed)
    added = 0
    cadres = {
        v.id: c for c in db.scalars(select(Cadre).order_by(Cadre.id.desc())) for v in c.villages
    }
    anyone = next(iter(cadres.values()), None) or db.scalars(select(Cadre)).first()
    if anyone is None:
        raise SurveyError("no cadre to survey with: run `flask demo load` first")
    villages = db.scalars(select(Area.id).where(Area.level == AreaLevel.VILLAGE).order_by(Area.id))
    for village_id in villages:
        cadre = cadres.get(village_id, anyone)
        propensity = rng.random() * 0.7
        for i in range(per_village):
            head = f"{rng.choice(GIVEN)} {rng.choice(FAMILY)} (demo)"
            poor = min(1.0, max(0.0, propensity + rng.uniform(-0.2, 0.3)))
            done = complete_survey(
                db,
                key=f"{KEY_PREFIX}:{village_id}:{i}:a",
                cadre_id=cadre.id,
                survey_id=survey_id,
                round_id=earlier.id,
                answers=answers(rng, village_id, poor, head),
            )
            # A year on: most improve a little, some a lot, a few fall back.
            later = max(0.0, poor - rng.choice((0.0, 0.1, 0.1, 0.3, 0.5, -0.2)))
            complete_survey(
                db,
                key=f"{KEY_PREFIX}:{village_id}:{i}:b",
                cadre_id=cadre.id,
                survey_id=survey_id,
                round_id=current.id,
                answers=answers(rng, village_id, later, head),
                household_id=done.household_id,
            )
            added += 1
    analytics.refresh(db)
    return added


def covered_villages(db: Session) -> list[int]:
    """The ids of the villages the demo cadres cover (where demo households live)."""
    return sorted(
        {
            v.id
            for c in db.scalars(select(Cadre))
            for v in c.villages
            if v.level is AreaLevel.VILLAGE
        }
    )

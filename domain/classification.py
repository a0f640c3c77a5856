"""Classify one household from its survey answers (schema: the household XLSForm).

``classify(answers)`` returns a frozen ``Classification``: the ten global-MPI
deprivation flags, the exact score and poor/vulnerable/severe (from
``domain.mpi.measure`` on a one-row matrix), the WHO/UNICEF JMP drinking-water and
sanitation service levels, the FIES raw score, the "two no-worries, three
guarantees" (两不愁三保障) checks, and counts used for targeting.

``answers`` is one dict as the survey runtime stores it: a question that was not
asked is absent; yes/no answers are ``"yes"``/``"no"``; ``member`` is a list of
dicts (the roster, head first). A key the schema says must be there (given the
answers' own ``relevant`` rules) and is not raises ``ValueError`` naming the key.

SOURCES (per indicator, see each function too)

- Global MPI cutoffs: Alkire, Kanagaratnam & Suppa (2023), OPHI MPI Methodological
  Note 55; indicator table in Scientific Data (2024) 11, "The global Multidimensional
  Poverty Index: harmonised level estimates and their changes over time", Table 1
  (https://www.nature.com/articles/s41597-024-04269-x/tables/1); OPHI's country
  do-files (e.g. "2019 Global MPI – India DHS 2015-16 [Stata do-file]", steps 2.1–2.10)
  for the rules the table leaves implicit.
- JMP ladders: WHO/UNICEF (2017), "Progress on drinking water, sanitation and hygiene:
  2017 update and SDG baselines"; https://washdata.org/monitoring/drinking-water.
- FIES: FAO Voices of the Hungry, "The Food Insecurity Experience Scale"
  (https://www.fao.org/in-action/voices-of-the-hungry/fies/en/).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

from domain import mpi

# Global MPI: an eligible member for years of schooling is aged 10 or over (OPHI
# do-files: "household member aged 10 years or older has completed SIX years").
SCHOOLING_AGE, SCHOOLING_YEARS = 10, 6
# School-aged: entrance age 6 up to the age a child would complete class 8 (6 + 8).
ATTENDANCE_AGES = (6, 14)
NUTRITION_MAX_AGE = 70  # undernutrition is assessed for members under 70
WATER_MINUTES_MPI = 30  # MPI: deprived at 30 minutes or more, round trip
WATER_MINUTES_JMP = 30  # JMP basic: no more than 30 minutes, round trip
COMPULSORY_AGES = (6, 15)  # China's nine-year compulsory education
MIN_MEALS = 2
FIES_ITEMS = (
    "fies_worried",
    "fies_healthy",
    "fies_fewfood",
    "fies_skipped",
    "fies_ateless",
    "fies_runout",
    "fies_hungry",
    "fies_whlday",
)

WATER_ON_PREMISES = frozenset({"piped_dwelling", "piped_yard"})
WATER_IMPROVED = WATER_ON_PREMISES | {
    "public_tap",
    "borehole",
    "protected_well",
    "protected_spring",
    "rainwater",
    "tanker",
    "bottled",
}
WATER_UNIMPROVED = frozenset({"unprotected_well", "unprotected_spring"})
WATER_SURFACE = frozenset({"surface"})
TOILET_IMPROVED = frozenset(
    {"flush_sewer", "flush_septic", "flush_pit", "vip", "pit_slab", "composting"}
)
TOILET_UNIMPROVED = frozenset({"flush_open", "pit_no_slab", "bucket"})
SOLID_FUELS = frozenset({"dung", "straw", "wood", "charcoal", "coal"})
FUELS = SOLID_FUELS | {"electricity", "lpg", "biogas", "kerosene", "none"}
SMALL_ASSETS = frozenset(
    {"radio", "tv", "phone", "computer", "animal_cart", "bicycle", "motorbike", "fridge"}
)
ASSETS = SMALL_ASSETS | {"car", "none"}
MATERIALS = ("natural", "rudimentary", "finished")
FLOORS = ("earth", "rudimentary", "finished")

Answers = Mapping[str, Any]


@dataclass(frozen=True)
class _Member:
    """One roster item, validated; ``None`` where the form does not ask at this age."""

    age: int
    disability: bool
    chronic: bool
    insured: bool
    in_school: bool | None  # asked at 6-15
    schooling: int | None  # years completed, asked at 6+
    undernourished: bool | None  # asked under 70
    can_work: bool | None  # asked at 16-64


@dataclass(frozen=True)
class Classification:
    """One household's classification; plain values, the score an exact Fraction."""

    members: int
    deprivations: Mapping[str, int]  # indicator -> 0/1, in ``mpi.INDICATORS`` order
    score: Fraction
    poor: bool
    vulnerable: bool
    severe: bool
    water_level: str  # basic | limited | unimproved | surface_water
    sanitation_level: str  # basic | limited | unimproved | open_defecation
    fies_raw_score: int  # 0-8
    food_insecurity: str  # secure | mild | moderate | severe (raw-score proxy)
    food_ok: bool
    clothing_ok: bool
    education_ok: bool
    medical_ok: bool
    housing_ok: bool
    water_ok: bool
    children_6_15_out_of_school: int
    members_able_to_work: int
    members_with_disability: int
    members_chronically_ill: int
    members_aged_70_plus: int  # older persons' cash transfers start at 70 in Kenya

    @property
    def guarantees_met(self) -> bool:
        """Two no-worries, three guarantees, and safe drinking water: all met."""
        return all(
            (
                self.food_ok,
                self.clothing_ok,
                self.education_ok,
                self.medical_ok,
                self.housing_ok,
                self.water_ok,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``score`` as ``"p/q"``, ``score_float`` as a float."""
        out = asdict(self)
        out["deprivations"] = dict(self.deprivations)
        out["score"] = str(self.score)
        out["score_float"] = float(self.score)
        out["guarantees_met"] = self.guarantees_met
        return out


def classify(
    answers: Answers, *, attendance_ages: tuple[int, int] = ATTENDANCE_AGES
) -> Classification:
    """Classify one household. Raises ``ValueError`` on a missing key or a bad value."""
    roster = _roster(answers)
    flags = deprivations(answers, attendance_ages=attendance_ages)
    row = mpi.measure([mpi.Household(id="household", size=len(roster), deprivations=flags)])
    result = row.households[0]
    raw = fies_raw_score(answers)
    water = water_level(answers)
    out_of_school = _out_of_school(roster, COMPULSORY_AGES)
    return Classification(
        members=len(roster),
        deprivations=flags,
        score=result.score,
        poor=result.poor,
        vulnerable=result.vulnerable,
        severe=result.severe,
        water_level=water,
        sanitation_level=sanitation_level(answers),
        fies_raw_score=raw,
        food_insecurity=food_insecurity_class(raw),
        food_ok=raw < 4 and _int(answers, "meals", 0, 9) >= MIN_MEALS,
        clothing_ok=_yes(answers, "clothing"),
        education_ok=out_of_school == 0,
        medical_ok=all(m.insured for m in roster),
        housing_ok=_yes(answers, "house_safe"),
        water_ok=water == "basic",
        children_6_15_out_of_school=out_of_school,
        members_able_to_work=sum(bool(m.can_work) for m in roster),
        members_with_disability=sum(m.disability for m in roster),
        members_chronically_ill=sum(m.chronic for m in roster),
        members_aged_70_plus=sum(m.age >= 70 for m in roster),
    )


def deprivations(
    answers: Answers, *, attendance_ages: tuple[int, int] = ATTENDANCE_AGES
) -> dict[str, int]:
    """The ten global-MPI flags (1 = deprived), in ``mpi.INDICATORS`` order.

    - years_of_schooling: no member aged 10+ has completed 6 years. A household with
      no member aged 10+ is DEPRIVED: OPHI's do-files set ``eduyears = 0 if age < 10``
      and take the household maximum, so such a household has nobody with 6 years.
    - school_attendance: a child of ``attendance_ages`` (inclusive; default 6–14,
      entrance age 6 up to completing class 8) is not in school. No such child:
      not deprived (OPHI: "Households with no children receive a value of 1 as
      non-deprived"). The range must lie within 6–15, where ``m_in_school`` is asked.
    - child_mortality: a child under 18 died in the last 5 years (``child_died``).
    - nutrition: a member under 70 is undernourished; none under 70: not deprived.
    - electricity: no electricity.
    - sanitation: JMP level is not basic (unimproved, open defecation, or improved
      but shared).
    - drinking_water: not improved, or a round trip of 30 minutes or more
      (Table 1: "a 30-minute walk or longer"; do-files: ``timetowater >= 30``).
    - housing: floor natural (earth), or roof or walls natural or rudimentary.
    - cooking_fuel: dung, straw/shrubs/crop residue, wood, charcoal or coal;
      "none" (no food cooked at home) is not deprived.
    - assets: owns at most one of radio, TV, telephone, computer, animal cart,
      bicycle, motorbike, refrigerator, and no car or truck.
    """
    low, high = attendance_ages
    if not COMPULSORY_AGES[0] <= low <= high <= COMPULSORY_AGES[1]:
        raise ValueError(f"attendance_ages must lie within 6-15, got {attendance_ages}")
    roster = _roster(answers)
    schooled = any(m.age >= SCHOOLING_AGE and (m.schooling or 0) >= SCHOOLING_YEARS for m in roster)
    undernourished = any(m.undernourished for m in roster)  # asked only under 70
    owned = _assets(answers)
    flags = {
        "years_of_schooling": not schooled,
        "school_attendance": _out_of_school(roster, attendance_ages) > 0,
        "child_mortality": _yes(answers, "child_died"),
        "nutrition": undernourished,
        "electricity": not _yes(answers, "electricity"),
        "sanitation": sanitation_level(answers) != "basic",
        "drinking_water": _water_source(answers) not in WATER_IMPROVED
        or _water_minutes(answers) >= WATER_MINUTES_MPI,
        "housing": _choice(answers, "floor", FLOORS) == "earth"
        or _choice(answers, "roof", MATERIALS) != "finished"
        or _choice(answers, "walls", MATERIALS) != "finished",
        "cooking_fuel": _choice(answers, "cooking_fuel", FUELS) in SOLID_FUELS,
        "assets": "car" not in owned and len(owned & SMALL_ASSETS) <= 1,
    }
    return {name: int(flags[name]) for name in mpi.INDICATORS}


def water_level(answers: Answers) -> str:
    """JMP drinking-water level: ``basic``, ``limited``, ``unimproved`` or ``surface_water``.

    Improved (piped, public tap, borehole, protected well/spring, rainwater, tanker,
    bottled) is basic when on premises or the round trip is at most 30 minutes
    ("not more than 30 minutes for a round trip, including queuing"), limited when
    over 30. Exactly 30 minutes is JMP basic AND MPI-deprived (see ``deprivations``).
    Safely managed is not assessed (it needs a water-quality test).
    """
    source = _water_source(answers)
    if source in WATER_SURFACE:
        return "surface_water"
    if source in WATER_UNIMPROVED:
        return "unimproved"
    return "basic" if _water_minutes(answers) <= WATER_MINUTES_JMP else "limited"


def sanitation_level(answers: Answers) -> str:
    """JMP sanitation level: ``basic``, ``limited``, ``unimproved`` or ``open_defecation``.

    Improved (flush to sewer, septic tank or pit; VIP; pit with slab; composting) is
    basic when not shared and limited when shared; pit without slab, hanging/bucket
    and flush to an open drain are unimproved; no facility is open defecation.
    """
    toilet = _choice(answers, "toilet", TOILET_IMPROVED | TOILET_UNIMPROVED | {"none"})
    if toilet == "none":
        return "open_defecation"
    if toilet in TOILET_UNIMPROVED:
        return "unimproved"
    return "limited" if _yes(answers, "toilet_shared") else "basic"


def fies_raw_score(answers: Answers) -> int:
    """FIES raw score: the number of "yes" among FAO's eight items (0–8)."""
    return sum(_yes(answers, item) for item in FIES_ITEMS)


def food_insecurity_class(raw_score: int) -> str:
    """A raw-score proxy: 0 secure, 1–3 mild, 4–6 moderate, 7–8 severe.

    Not FAO's prevalence of moderate or severe food insecurity, which comes from a
    Rasch model calibrated against the global reference scale; a raw score is a
    household-level screening proxy only. Raises ``ValueError`` outside 0–8.
    """
    if not 0 <= raw_score <= len(FIES_ITEMS):
        raise ValueError(f"FIES raw score must be 0-8, got {raw_score}")
    if raw_score == 0:
        return "secure"
    if raw_score <= 3:
        return "mild"
    return "moderate" if raw_score <= 6 else "severe"


def _out_of_school(roster: Sequence[_Member], ages: tuple[int, int]) -> int:
    low, high = ages
    return sum(low <= m.age <= high and m.in_school is False for m in roster)


def _roster(answers: Answers) -> list[_Member]:
    count = _int(answers, "members", 1, 30)
    roster = _require(answers, "member")
    if not isinstance(roster, list) or not all(isinstance(m, Mapping) for m in roster):
        raise ValueError("member must be a list of member answers")
    if len(roster) != count:
        raise ValueError(f"members is {count} but member lists {len(roster)}")
    return [_member(item, index) for index, item in enumerate(roster)]


def _member(item: Answers, i: int) -> _Member:
    age = _int(item, "m_age", 0, 120, i)
    return _Member(
        age=age,
        disability=_yes(item, "m_disability", i),
        chronic=_yes(item, "m_chronic", i),
        insured=_yes(item, "m_insured", i),
        in_school=_yes(item, "m_in_school", i) if 6 <= age <= 15 else None,
        schooling=_int(item, "m_schooling", 0, 25, i) if age >= 6 else None,
        undernourished=_yes(item, "m_undernourished", i) if age < NUTRITION_MAX_AGE else None,
        can_work=_yes(item, "m_can_work", i) if 16 <= age <= 64 else None,
    )


def _water_source(answers: Answers) -> str:
    return _choice(answers, "water_source", WATER_IMPROVED | WATER_UNIMPROVED | WATER_SURFACE)


def _water_minutes(answers: Answers) -> int:
    if _water_source(answers) in WATER_ON_PREMISES:
        return 0  # not asked: the water is on premises
    return _int(answers, "water_minutes", 0, 600)


def _assets(answers: Answers) -> frozenset[str]:
    owned = _require(answers, "assets")
    if not isinstance(owned, list) or not all(a in ASSETS for a in owned):
        raise ValueError(f"assets must be a list of {sorted(ASSETS)}, got {owned!r}")
    return frozenset(owned) - {"none"}


def _where(key: str, index: int | None) -> str:
    return key if index is None else f"member[{index}].{key}"


def _require(answers: Answers, key: str, index: int | None = None) -> Any:
    if key not in answers:
        raise ValueError(f"missing answer: {_where(key, index)}")
    return answers[key]


def _yes(answers: Answers, key: str, index: int | None = None) -> bool:
    return _choice(answers, key, ("yes", "no"), index) == "yes"


def _choice(
    answers: Answers, key: str, choices: Sequence[str] | frozenset[str], index: int | None = None
) -> str:
    value = _require(answers, key, index)
    if value not in choices:
        raise ValueError(f"{_where(key, index)} must be one of {sorted(choices)}, got {value!r}")
    return str(value)


def _int(answers: Answers, key: str, low: int, high: int, index: int | None = None) -> int:
    value = _require(answers, key, index)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{_where(key, index)} must be a whole number {low}-{high}, got {value!r}")
    return value

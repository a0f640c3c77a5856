"""A synthetic population at national scale, generated inside PostgreSQL.

``generate(db, people=10_000_000, seed=1)`` adds, in one transaction:

- **areas**: 10 provinces ``Synthetic Province 01``… (country ``KE``, timezone
  ``Africa/Nairobi``, as the demo), each with up to 10 counties ``Synthetic
  County 01-03`` and villages ``Synthetic Village 01-03-042``: about one village
  per 100 households, at most 10,000 (100 a county), at least 20. No demo area
  (``demo/areas.yaml``: real Kenyan names) starts with "Synthetic"; a top-level
  area named ``Synthetic Province …`` is what marks the population as synthetic.
- **households**: ``round(people / MEAN_SIZE)`` (2.49 M for 10 M people), spread over
  the villages (log-normal village sizes, every village at least one). Head names
  from common Kenyan given names and surnames; 85 % of heads have a number
  ``+25419xxxxxxx`` (unique: ``+25419`` then the household's ordinal): Kenya's
  plan gives no operator the 019 prefix (libphonenumber: a possible number of no
  valid type), so no gateway can deliver to it and no real person can dial in
  from it. No subscriber rows are made, so no campaign reaches these households.
- **surveys** in two rounds, ``synthetic-2025`` and ``synthetic-2026`` (opened
  2025-02-01 and 2026-02-01, so a round opened later, such as the demo's, stays
  current): 90 % of households in both, 5 % only in 2025 (gone), 5 % only in
  2026 (new). ``is_latest`` marks each household's newest. ``answers`` is only
  ``{"synthetic": true}`` (the classification columns carry everything the
  console reads; real answers, a roster per member, would multiply the size). ``survey_id``
  is a ``Survey`` row ``synthetic`` v1 whose definition is the household form's
  (so a page that parses a survey's form still can); ``cadre_id`` is NULL.

The distributions (approximations, not a calibrated model):

- Deprivations follow a probit model: household i is deprived in indicator j
  when ``l_j * z_i + sqrt(1 - l_j^2) * e_ij > t_j``, with ``t_j`` set so the share
  deprived is ``RATES[j]``; ``z_i`` = province effect (evenly spread, sd 0.45) +
  village effect (sd 0.5) + household factor (sd 0.74), total variance 1, so
  deprivations go together, provinces differ and some villages are very poor.
  ``RATES`` approximate the magnitudes of Kenya's uncensored headcount ratios in
  the UNDP/OPHI global MPI 2022 (DHS 2014), tuned so that at 10 M people (seed 1)
  2025 gives H 0.365 and A 0.468 (published for Kenya: H about 0.37, A about
  0.45), provinces H 0.17-0.58, villages 0.00-0.96 (median 0.32); 2026 H 0.31.
- 2026: ``z`` falls by 0.2 on average with a household shock (sd 0.2) and
  every ``e_ij`` keeps 0.95 of itself, so some households leave poverty and
  fewer fall in (``IMPROVEMENT``, ``SHOCK``, ``PERSISTENCE``).
- Household size 1-12, mean 4.02 (Kenya's 2019 census: 3.9), larger in poorer
  households. FIES raw score 0-8 from the same ``z`` (KNBS/FAO put moderate or
  severe food insecurity near half of Kenyans); water and sanitation JMP levels
  consistent with the deprivation flags (not deprived = basic); NHIF cover about
  a quarter (KDHS 2022: 26 %); a member aged 70+ in about 10 % of households.

Every flag is coherent as ``domain.households.complete_survey`` would store it:
the score is the exact weighted sum of the flags (a reduced fraction of 18ths),
``water_ok`` is ``water_level = 'basic'``, ``food_ok`` implies a FIES score
under 4, ``education_ok`` is no child out of school, ``dep_school_attendance``
comes with at least one child out of school, no count exceeds the members, and
``members_able_to_work`` leaves out the children out of school and the over-70s.

Reproducible: area-level draws come from ``random.Random(seed)``; household
draws from ``hashint8extended(ordinal, seed)`` in SQL (not ``random()``), so a
value depends on the seed and the household's ordinal only, never on the plan or
the evaluation order. PostgreSQL only (``Refused`` otherwise).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from statistics import NormalDist
from time import perf_counter
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from domain.demo import SURVEYS_DIR
from domain.mpi import INDICATORS, WEIGHTS
from domain.xlsform import read_xlsform
from models import Area, AreaLevel, Survey, SurveyRound

PROVINCE_PREFIX = "Synthetic Province "
COUNTRY, TIMEZONE = "KE", "Africa/Nairobi"
MSISDN_PREFIX = "+25419"  # then the household's ordinal in 7 digits
SURVEY_FORM = ("synthetic", "1")
ROUNDS = (
    ("synthetic-2025", datetime(2025, 2, 1, tzinfo=UTC)),
    ("synthetic-2026", datetime(2026, 2, 1, tzinfo=UTC)),
)
MIN_PEOPLE, MAX_PEOPLE = 1_000, 20_000_000  # at most 4.97 M households: 7-digit ordinals
PROVINCES, MAX_COUNTIES, MAX_VILLAGES = 10, 10, 10_000
HOUSEHOLDS_PER_VILLAGE = 100  # until MAX_VILLAGES
LOCK_KEY = 748_150_923  # pg_try_advisory_xact_lock: one generator per database at a time
_N = NormalDist()

#: Share of households deprived in each indicator (see the module docstring).
RATES = {
    "years_of_schooling": 0.10,
    "school_attendance": 0.08,
    "child_mortality": 0.04,
    "nutrition": 0.18,
    "electricity": 0.62,
    "sanitation": 0.70,
    "drinking_water": 0.38,
    "housing": 0.62,
    "cooking_fuel": 0.85,
    "assets": 0.30,
}
#: How strongly each indicator follows the household's poverty factor ``z`` (0-1).
LOADINGS = {
    "years_of_schooling": 0.6,
    "school_attendance": 0.55,
    "child_mortality": 0.35,
    "nutrition": 0.5,
    "electricity": 0.7,
    "sanitation": 0.6,
    "drinking_water": 0.5,
    "housing": 0.7,
    "cooking_fuel": 0.65,
    "assets": 0.6,
}
SD_PROVINCE, SD_VILLAGE = 0.45, 0.5  # the household factor takes the rest of variance 1
IMPROVEMENT, SHOCK, PERSISTENCE = 0.2, 0.2, 0.95  # 2025 -> 2026
#: P(household size = k), k = 1..12 (Kenya 2019 census: mean 3.9, a long tail).
SIZES = (0.15, 0.15, 0.17, 0.16, 0.13, 0.09, 0.06, 0.04, 0.025, 0.013, 0.007, 0.005)
MEAN_SIZE = sum((k + 1) * p for k, p in enumerate(SIZES))
#: P(FIES raw score >= k), k = 1..8.
FIES_AT_LEAST = (0.78, 0.68, 0.57, 0.45, 0.34, 0.24, 0.14, 0.07)
HARDSHIPS = {
    "illness": 0.20,
    "disability": 0.05,
    "education": 0.08,
    "labour": 0.10,
    "land": 0.10,
    "water": 0.08,
    "skills": 0.12,
    "capital": 0.17,
    "disaster": 0.05,
    "other": 0.05,
}
GIVEN_NAMES = (
    "Mary Grace Jane Faith Esther Joyce Lucy Ann Margaret Elizabeth Mercy Rose Alice Wanjiru"
    " Wanjiku Njeri Akinyi Achieng Atieno Adhiambo Auma Nafula Nekesa Chebet Jepchirchir Mwende"
    " Mumbua Zawadi Amina Fatuma Halima John Joseph Peter James David Samuel Daniel Paul Stephen"
    " Moses Kamau Mwangi Njoroge Kariuki Otieno Ochieng Odhiambo Onyango Omondi Wafula Barasa"
    " Wekesa Kiprono Kipchoge Kiptoo Mutua Musyoka Kilonzo Baraka Hassan Juma"
).split()
SURNAMES = (
    "Kamau Mwangi Njoroge Kariuki Maina Kimani Wambui Githinji Ndungu Gitau Otieno Ochieng"
    " Odhiambo Onyango Omondi Owino Okoth Ouma Oduor Awino Wafula Barasa Wekesa Simiyu Wanyama"
    " Makokha Wamalwa Khisa Kiprono Kipchoge Kiptoo Rotich Koech Cheruiyot Kirui Langat Mutua"
    " Musyoka Kilonzo Muthoka Nzioka Mohamed Hassan Ali Omar Juma Salim Chege Ngugi Macharia"
    " Wairimu Nyambura Achieng Moraa Nyaboke Kerubo Ongeri Nyakundi Mogaka"
).split()


class Refused(Exception):
    """Nothing was done: the database or the request does not allow it (the message says)."""


@dataclass(frozen=True)
class Plan:
    """A population's shape: ``villages[c]`` villages in county c of every province."""

    people: int
    seed: int
    households: int
    villages: tuple[int, ...]

    @property
    def village_count(self) -> int:
        return PROVINCES * sum(self.villages)

    @property
    def area_count(self) -> int:
        return PROVINCES * (1 + len(self.villages)) + self.village_count


@dataclass
class Generated:
    """What ``generate`` made (and deleted, with ``replace``); seconds per step."""

    areas: int = 0
    households: int = 0
    surveys: dict[str, int] = field(default_factory=dict)  # round name -> rows
    deleted: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def plan(people: int, seed: int) -> Plan:
    """The area tree and the household count for ``people`` (``MIN_PEOPLE`` to
    ``MAX_PEOPLE``, else ``ValueError``): one village a ``HOUSEHOLDS_PER_VILLAGE``
    households up to 10,000 villages, about sqrt(villages) counties a province, at most 10."""
    if not MIN_PEOPLE <= people <= MAX_PEOPLE:
        raise ValueError(f"people must be {MIN_PEOPLE:,} to {MAX_PEOPLE:,}, got {people:,}")
    households = round(people / MEAN_SIZE)
    villages = min(MAX_VILLAGES, households // HOUSEHOLDS_PER_VILLAGE)
    per_province = max(2, villages // PROVINCES)
    counties = max(1, min(MAX_COUNTIES, round(math.sqrt(per_province))))
    shape = tuple(per_province // counties + (c < per_province % counties) for c in range(counties))
    return Plan(people, seed, households, shape)


def synthetic_areas(db: Session) -> list[int]:
    """Ids of every synthetic area: the ``Synthetic Province …`` trees."""
    level = list(
        db.scalars(
            select(Area.id).where(
                Area.parent_id.is_(None), Area.name.startswith(PROVINCE_PREFIX, autoescape=True)
            )
        )
    )
    found: list[int] = []
    while level:
        found += level
        level = list(db.scalars(select(Area.id).where(Area.parent_id.in_(level))))
    return found


def generate(
    db: Session,
    people: int,
    seed: int = 1,
    *,
    replace: bool = False,
    checked: Callable[[Generated], None] | None = None,
) -> Generated:
    """Add the synthetic population (module docstring), commit, then VACUUM
    ANALYZE its tables. With ``replace``, first delete the synthetic areas, their
    households, surveys and statistics (``delete_synthetic``). Raises ``Refused``
    (not PostgreSQL; a synthetic population is there and not ``replace``;
    another generator is running; other rows refer to synthetic areas or
    households) or ``ValueError`` (people out of range). Any error rolls the
    whole transaction back. The area statistics are not refreshed here
    (``domain.analytics.refresh``). ``checked(progress)`` is called once nothing
    stands in the way (after the deletion, with ``replace``), before the minutes
    of work. Locks the household table against writes (SHARE ROW EXCLUSIVE, to
    own a block of ids) until it commits: a survey completed meanwhile waits."""
    the_plan = plan(people, seed)
    if db.get_bind().dialect.name != "postgresql":
        raise Refused("needs PostgreSQL: DATABASE_URL is not a PostgreSQL database")
    out = Generated()
    try:
        step = perf_counter()
        db.execute(text("SET LOCAL statement_timeout = 0"))
        db.execute(text("SET LOCAL synchronous_commit = off"))
        db.execute(text("SET LOCAL work_mem = '64MB'"))
        if not db.scalar(select(func.pg_try_advisory_xact_lock(LOCK_KEY))):
            raise Refused("another flask demo generate is running on this database")
        if synthetic_areas(db):
            if not replace:
                raise Refused(
                    "this database holds a synthetic population already;"
                    " --replace deletes it and generates again"
                )
            out.deleted = delete_synthetic(db)
            out.timings["delete"] = perf_counter() - step
        if checked is not None:
            checked(out)
        _generate(db, the_plan, out)
        step = perf_counter()
        db.commit()
        out.timings["commit"] = perf_counter() - step
    except BaseException:
        db.rollback()
        raise
    step = perf_counter()
    with db.get_bind().engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) area, household, household_survey"))
    out.timings["vacuum"] = perf_counter() - step
    return out


def _generate(db: Session, the_plan: Plan, out: Generated) -> None:
    step = perf_counter()
    survey_id = _survey(db)
    round_ids = [_round(db, name, opened) for name, opened in ROUNDS]
    _areas(db, the_plan)
    out.areas = the_plan.area_count
    out.timings["areas"] = perf_counter() - step

    step = perf_counter()
    # A block of household ids of our own: their ordinals (id - base) seed every draw.
    db.execute(text("LOCK TABLE household IN SHARE ROW EXCLUSIVE MODE"))
    sequence = db.scalar(text("SELECT pg_get_serial_sequence('household', 'id')"))
    base = int(
        db.scalar(
            text(f"SELECT greatest(last_value, (SELECT max(id) FROM household)) FROM {sequence}")
        )
    )
    for statement in _functions(the_plan.seed):
        db.execute(text(statement))
    db.execute(text(HOUSEHOLDS), {"base": base})
    db.execute(
        text("SELECT setval(:seq, :last)"), {"seq": sequence, "last": base + the_plan.households}
    )
    out.households = the_plan.households
    out.timings["households"] = perf_counter() - step

    step = perf_counter()
    db.execute(
        text(surveys_sql()),
        {"base": base, "survey": survey_id, "round1": round_ids[0], "round2": round_ids[1]},
    )
    for (name, _), round_id in zip(ROUNDS, round_ids, strict=True):
        out.surveys[name] = int(
            db.scalar(
                text(
                    "SELECT count(*) FROM household_survey"
                    " WHERE round_id = :r AND household_id > :b"
                ),
                {"r": round_id, "b": base},
            )
            or 0
        )
    db.execute(text("DROP FUNCTION pg_temp.syn_done, pg_temp.syn_n, pg_temp.syn_u"))
    out.timings["surveys"] = perf_counter() - step


def _survey(db: Session) -> int:
    """The ``synthetic`` survey row: the household form's definition, renamed."""
    form_id, version = SURVEY_FORM
    found = db.scalar(select(Survey.id).where(Survey.form_id == form_id, Survey.version == version))
    if found is not None:
        return found
    household = db.scalars(
        select(Survey).where(Survey.form_id == "household").order_by(Survey.id.desc()).limit(1)
    ).first()
    definition = dict(
        household.definition if household else read_xlsform(SURVEYS_DIR / "household.xlsx")
    )
    title = "Synthetic population (flask demo generate)"
    definition.update(id_string=form_id, version=version, title=title)
    survey = Survey(form_id=form_id, version=version, title=title, definition=definition)
    db.add(survey)
    db.flush()
    return survey.id


def _round(db: Session, name: str, opened: datetime) -> int:
    found = db.scalar(select(SurveyRound.id).where(SurveyRound.name == name))
    if found is not None:
        return found
    row = SurveyRound(name=name, opened_at=opened)
    db.add(row)
    db.flush()
    return row.id


def _add_areas(db: Session, rows: list[dict[str, Any]]) -> list[int]:
    for row in rows:
        row.update(country=COUNTRY, timezone=TIMEZONE)
    return list(db.scalars(insert(Area).returning(Area.id, sort_by_parameter_order=True), rows))


def _areas(db: Session, the_plan: Plan) -> None:
    """The area tree, and the temporary table ``syn_village`` (ordinal ``v``,
    ``area_id``, ``effect``: province + village poverty propensity, households
    ``first_n`` to ``first_n + households - 1``), dropped at commit."""
    rng = random.Random(the_plan.seed)
    spread = [SD_PROVINCE * _N.inv_cdf((p + 0.5) / PROVINCES) for p in range(PROVINCES)]
    rng.shuffle(spread)  # evenly spread, in an order the seed decides
    provinces = _add_areas(
        db,
        [
            {"parent_id": None, "level": AreaLevel.PROVINCE, "name": f"{PROVINCE_PREFIX}{p:02d}"}
            for p in range(1, PROVINCES + 1)
        ],
    )
    codes = [
        f"{p:02d}-{c:02d}"
        for p in range(1, PROVINCES + 1)
        for c in range(1, len(the_plan.villages) + 1)
    ]
    counties = _add_areas(
        db,
        [
            {
                "parent_id": provinces[i // len(the_plan.villages)],
                "level": AreaLevel.COUNTY,
                "name": f"Synthetic County {code}",
            }
            for i, code in enumerate(codes)
        ],
    )
    village_rows, effects = [], []
    for i, (code, county_id) in enumerate(zip(codes, counties, strict=True)):
        province, county = divmod(i, len(the_plan.villages))
        for v in range(1, the_plan.villages[county] + 1):
            name = f"Synthetic Village {code}-{v:03d}"
            village_rows.append({"parent_id": county_id, "level": AreaLevel.VILLAGE, "name": name})
            effects.append(spread[province] + SD_VILLAGE * rng.gauss(0.0, 1.0))
    villages = _add_areas(db, village_rows)
    # Village sizes: log-normal weights, every village at least one household.
    weights = [math.exp(0.5 * rng.gauss(0.0, 1.0)) for _ in villages]
    spare, total = the_plan.households - len(villages), sum(weights)
    sizes = [1 + int(spare * w / total) for w in weights]
    for i in range(the_plan.households - sum(sizes)):
        sizes[i % len(sizes)] += 1
    firsts = [1 + s for s in accumulate([0, *sizes[:-1]])]
    db.execute(
        text(
            "CREATE TEMPORARY TABLE syn_village ON COMMIT DROP AS SELECT * FROM"
            " unnest(CAST(:ids AS int[]), CAST(:firsts AS int[]), CAST(:sizes AS int[]),"
            " CAST(:effects AS float8[])) AS t(area_id, first_n, households, effect)"
        ),
        {"ids": villages, "firsts": firsts, "sizes": sizes, "effects": effects},
    )


def _functions(seed: int) -> list[str]:
    """Deterministic draws for SQL: ``syn_u(n, stream)`` uniform in (0, 1) and
    ``syn_n(n, stream)`` standard normal (Box-Muller) from a hash of the household
    ordinal ``n``, the stream and ``seed``; ``syn_done(n, round)`` a survey's
    completion time (12 weeks of fieldwork from early February, 09:00-17:00 in Nairobi)."""
    seed = int(seed)  # formatted into SQL: an int only
    pure = "LANGUAGE sql IMMUTABLE PARALLEL SAFE"
    return [
        "CREATE OR REPLACE FUNCTION pg_temp.syn_u(n bigint, s int) RETURNS float8 "
        f"{pure} AS $$ SELECT ((hashint8extended(n, {seed}::bigint * 1024 + s)"
        " & 2147483647)::float8 + 0.5) / 2147483648.0 $$",
        "CREATE OR REPLACE FUNCTION pg_temp.syn_n(n bigint, s int) RETURNS float8 "
        f"{pure} AS $$ SELECT sqrt(-2 * ln(pg_temp.syn_u(n, s)))"
        " * cos(2 * pi() * pg_temp.syn_u(n, s + 512)) $$",
        "CREATE OR REPLACE FUNCTION pg_temp.syn_done(n bigint, r int) RETURNS timestamptz "
        f"{pure} AS $$ SELECT CASE r WHEN 1 THEN timestamptz '2025-02-03 06:00+00'"
        " ELSE timestamptz '2026-02-02 06:00+00' END"
        " + floor(pg_temp.syn_u(n, 100 + r) * 84) * interval '1 day'"
        " + pg_temp.syn_u(n, 102 + r) * interval '8 hours' $$",
    ]


#: Who is surveyed when, from syn_u(n, 4): under 0.05 only 2025, 0.95 and over only 2026.
_ONLY_2025, _ONLY_2026 = 0.05, 0.95


def _pick(names: list[str], stream: int) -> str:
    """SQL choosing one of ``names`` (letters only) by the draw ``stream``."""
    assert all(name.isalpha() for name in names)
    listed = ", ".join(f"'{name}'" for name in names)
    return f"(ARRAY[{listed}])[1 + floor(pg_temp.syn_u(g.n, {stream}) * {len(names)})::int]"


_SERIES = "generate_series(v.first_n, v.first_n + v.households - 1) AS g(n)"
HOUSEHOLDS = f"""
INSERT INTO household (id, area_id, head_name, head_msisdn, created_at)
SELECT :base + g.n, v.area_id, {_pick(GIVEN_NAMES, 1)} || ' ' || {_pick(SURNAMES, 2)},
    CASE WHEN pg_temp.syn_u(g.n, 3) < 0.85 THEN '{MSISDN_PREFIX}' || lpad(g.n::text, 7, '0') END,
    pg_temp.syn_done(g.n, CASE WHEN pg_temp.syn_u(g.n, 4) >= {_ONLY_2026} THEN 2 ELSE 1 END)
FROM syn_village v CROSS JOIN LATERAL {_SERIES}
"""


def _array(values: list[float]) -> str:
    return "ARRAY[" + ", ".join(f"{x:.6f}" for x in values) + "]::float8[]"


def _normal_term(stream: int) -> str:
    """An idiosyncratic N(0, 1) draw of the round: 2026 keeps ``PERSISTENCE`` of 2025's."""
    fresh = math.sqrt(1 - PERSISTENCE**2)
    first = f"pg_temp.syn_n(n, {stream})"
    return (
        f"CASE r WHEN 1 THEN {first} ELSE {PERSISTENCE} * {first}"
        f" + {fresh:.6f} * pg_temp.syn_n(n, {stream + 20}) END"
    )


def surveys_sql() -> str:
    """The ``INSERT … SELECT`` of every survey row, from ``syn_village`` and the
    ``pg_temp`` draws; parameters ``base``, ``survey``, ``round1``, ``round2``.
    ``OFFSET 0`` keeps each layer a subquery, so a draw is made once a row."""
    sd_household = math.sqrt(1 - SD_PROVINCE**2 - SD_VILLAGE**2)
    sizes = _array([_N.inv_cdf(x) for x in accumulate(SIZES[:-1])])
    fies = _array([_N.inv_cdf(1 - p) for p in FIES_AT_LEAST])
    causes = "ARRAY[" + ", ".join(f"'{c}'" for c in HARDSHIPS) + "]"
    cause_bounds = _array(list(accumulate(HARDSHIPS.values()))[:-1])
    flags = []
    for j, name in enumerate(INDICATORS):
        load, cut = LOADINGS[name], _N.inv_cdf(1 - RATES[name])
        rule = f"{load} * z + {math.sqrt(1 - load**2):.6f} * ({_normal_term(20 + j)}) > {cut:.6f}"
        if name == "school_attendance":
            rule += " AND members >= 2"  # a child besides the head
        flags.append(f"({rule})::int AS d_{name}")
    score = " + ".join(f"{int(WEIGHTS[name] * 18)} * d_{name}" for name in INDICATORS)
    deps = ", ".join(f"d_{name} = 1" for name in INDICATORS)
    return f"""
INSERT INTO household_survey (household_id, survey_id, round_id, cadre_id, draft_key, answers,
    completed_at, is_latest, mpi_score, mpi_score_value, mpi_poor, mpi_vulnerable, mpi_severe,
    {", ".join(f"dep_{name}" for name in INDICATORS)},
    food_ok, clothing_ok, education_ok, medical_ok, housing_ok, water_ok, water_level,
    sanitation_level, fies_score, food_insecurity, members, children_out_of_school,
    members_able_to_work, members_with_disability, members_chronically_ill,
    members_aged_70_plus, hardship)
SELECT :base + n, :survey, CASE r WHEN 1 THEN :round1 ELSE :round2 END, NULL,
    'synthetic:' || lpad((:base + n)::text, 10, '0') || ':' || r,
    CAST('{{"synthetic": true}}' AS jsonb),
    pg_temp.syn_done(n, r), r = 2 OR part = 1,
    CASE WHEN s18 = 0 THEN '0' WHEN gcd(s18, 18) = 18 THEN (s18 / 18)::text
         ELSE (s18 / gcd(s18, 18)) || '/' || (18 / gcd(s18, 18)) END,
    s18::float8 / 18, s18 >= 6, s18 >= 4 AND s18 < 6, s18 >= 9,
    {deps},
    fies < 4 AND NOT (d_nutrition = 1 AND pg_temp.syn_u(n, 83) < 0.15),
    0.5 * z + 0.866 * pg_temp.syn_n(n, 80) < {_N.inv_cdf(0.85):.6f},
    out_of_school = 0,
    0.5 * z + 0.866 * pg_temp.syn_n(n, 81) < {_N.inv_cdf(0.25):.6f},
    pg_temp.syn_u(n, 82) < CASE d_housing WHEN 1 THEN 0.4 ELSE 0.92 END,
    water = 'basic', water, sanitation, fies,
    CASE WHEN fies = 0 THEN 'secure' WHEN fies <= 3 THEN 'mild'
         WHEN fies <= 6 THEN 'moderate' ELSE 'severe' END,
    members, out_of_school,
    greatest(0, least(members - out_of_school - aged_70,
        floor(members * (0.52 - 0.08 * z) + pg_temp.syn_u(n, 87))::int)),
    least(members, (pg_temp.syn_u(n, 88) < 0.07 + 0.03 * (z > 1)::int)::int
        + (pg_temp.syn_u(n, 89) < 0.01)::int),
    least(members, (pg_temp.syn_u(n, 90) < 0.15)::int + (pg_temp.syn_u(n, 91) < 0.03)::int),
    aged_70,
    ({causes})[1 + width_bucket(pg_temp.syn_u(n, 94 + r), {cause_bounds})]
FROM (
    SELECT *, {score} AS s18,
        CASE WHEN d_drinking_water = 0 THEN 'basic'
             WHEN pg_temp.syn_u(n, 70) + 0.12 * z < 0.40 THEN 'limited'
             WHEN pg_temp.syn_u(n, 70) + 0.12 * z < 0.78 THEN 'unimproved'
             ELSE 'surface_water' END AS water,
        CASE WHEN d_sanitation = 0 THEN 'basic'
             WHEN pg_temp.syn_u(n, 71) + 0.12 * z < 0.30 THEN 'limited'
             WHEN pg_temp.syn_u(n, 71) + 0.12 * z < 0.75 THEN 'unimproved'
             ELSE 'open_defecation' END AS sanitation,
        CASE WHEN d_school_attendance = 1
             THEN least(members - 1, 1 + (pg_temp.syn_u(n, 84) < 0.3)::int)
             WHEN members >= 3 AND pg_temp.syn_u(n, 85 + r) < 0.03 THEN 1
             ELSE 0 END AS out_of_school,
        least(members,
            (pg_temp.syn_u(n, 92) < 0.10)::int + (pg_temp.syn_u(n, 93) < 0.015)::int) AS aged_70
    FROM (
        SELECT *, {", ".join(flags)},
            width_bucket(0.65 * z + 0.76 * ({_normal_term(60)}), {fies}) AS fies
        FROM (
            SELECT h.n, r.r, h.part,
                CASE r.r WHEN 1 THEN h.z1
                    ELSE h.z1 - {IMPROVEMENT} + {SHOCK} * pg_temp.syn_n(h.n, 11) END AS z,
                1 + width_bucket(0.3 * h.z1 + 0.954 * pg_temp.syn_n(h.n, 12), {sizes}) AS members
            FROM (
                SELECT g.n, v.effect + {sd_household:.6f} * pg_temp.syn_n(g.n, 10) AS z1,
                    CASE WHEN pg_temp.syn_u(g.n, 4) < {_ONLY_2025} THEN 1
                         WHEN pg_temp.syn_u(g.n, 4) >= {_ONLY_2026} THEN 2 ELSE 0 END AS part
                FROM syn_village v
                CROSS JOIN LATERAL {_SERIES}
                OFFSET 0
            ) AS h CROSS JOIN (VALUES (1), (2)) AS r(r)
            WHERE h.part = 0 OR h.part = r.r
            OFFSET 0
        ) AS b
        OFFSET 0
    ) AS c
    OFFSET 0
) AS d
"""


#: Foreign keys whose rows go with the synthetic population (the rest must not point at it).
_OWNED = {
    ("area", "parent_id"),
    ("household", "area_id"),
    ("household_survey", "household_id"),
    ("area_statistic", "area_id"),
}


def references(db: Session, area_ids: list[int]) -> dict[str, int]:
    """``{"table.column": rows}`` of other tables' rows that refer to the
    synthetic areas, their households or surveys (a subscriber's home village, a
    cadre's villages, a re-survey draft…): what ``delete_synthetic`` would break."""
    found: dict[str, int] = {}
    keys = db.execute(
        text(
            "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text"
            " FROM pg_constraint c JOIN pg_attribute a"
            "  ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
            " WHERE c.contype = 'f'"
            "  AND c.confrelid IN ('area'::regclass, 'household'::regclass,"
            "   'household_survey'::regclass)"
        )
    ).all()
    to_area = {
        "area": "t.{col} = ANY(:areas)",
        "household": "t.{col} IN (SELECT id FROM household WHERE area_id = ANY(:areas))",
        "household_survey": "t.{col} IN (SELECT s.id FROM household_survey s"
        " JOIN household h ON h.id = s.household_id WHERE h.area_id = ANY(:areas))",
    }
    for table, column, target in keys:
        if (table, column) in _OWNED:
            continue
        where = to_area[target].format(col=f'"{column}"')
        count = db.scalar(
            text(f"SELECT count(*) FROM {table} AS t WHERE {where}"), {"areas": area_ids}
        )
        if count:
            found[f"{table}.{column}"] = int(count)
    return found


def delete_synthetic(db: Session) -> dict[str, int]:
    """Delete the synthetic areas, their households, surveys and statistics
    (not the rounds or the survey row, which are reused); returns rows deleted
    by table. Raises ``Refused`` when other rows refer to them (``references``).
    Does not commit."""
    areas = synthetic_areas(db)
    if not areas:
        return {}
    blocking = references(db, areas)
    if blocking:
        listed = ", ".join(f"{name} ({n:,} rows)" for name, n in sorted(blocking.items()))
        raise Refused(f"other data refers to the synthetic population: {listed}; nothing deleted")
    statements = {
        "household_survey": "DELETE FROM household_survey s USING household h"
        " WHERE s.household_id = h.id AND h.area_id = ANY(:areas)",
        "household": "DELETE FROM household WHERE area_id = ANY(:areas)",
        "area_statistic": "DELETE FROM area_statistic WHERE area_id = ANY(:areas)",
        "area": "DELETE FROM area WHERE id = ANY(:areas)",
    }
    return {
        table: int(db.execute(text(sql), {"areas": areas}).rowcount)  # type: ignore[attr-defined]
        for table, sql in statements.items()
    }


def estimated_bytes(people: int) -> int:
    """Database space the population takes, tables and indexes (measured: about
    0.9 kB a household at 10 M people, two surveys each)."""
    return int(round(people / MEAN_SIZE) * BYTES_PER_HOUSEHOLD)


BYTES_PER_HOUSEHOLD = 900

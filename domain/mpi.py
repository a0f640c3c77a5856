"""The Alkire–Foster adjusted headcount ratio M0, set up as the global MPI.

Every weight, score and aggregate is an exact ``fractions.Fraction``: a household
deprived in exactly one third of the weighted indicators is poor, with no float
rounding in the way.

Identification (who is poor) and aggregation (how poor is the population):

- deprivation score of household i: ``c_i = sum_j w_j * g_ij`` (``g_ij`` is 0 or 1);
- poor when ``c_i >= k``; censored score ``c_i(k) = c_i`` if poor else 0;
- ``H = q / n`` (people in poor households over all people; each household counts
  ``size`` times, as in the global MPI, which is a person-level measure);
- ``A = sum_poor size_i * c_i / q`` (0 when nobody is poor);
- ``MPI = M0 = H * A``, which equals the people-weighted mean of ``c_i(k)``;
- censored headcount ratio ``h_j = sum size_i * g_ij * [poor_i] / n``;
- percentage contribution of indicator j: ``w_j * h_j / MPI * 100``. Contributions
  sum to exactly 100. When MPI is 0 they are undefined and given as ``None``.

SOURCES

- Alkire, S. and Foster, J. (2011), "Counting and multidimensional poverty
  measurement", Journal of Public Economics 95(7–8), 476–487: identification
  "c_i >= k", M0 = HA, the censored headcount ratios and the decomposition by
  indicator (doi:10.1016/j.jpubeco.2010.11.006).
- Alkire, S., Kanagaratnam, U. and Suppa, N. (2023), "The global Multidimensional
  Poverty Index (MPI) 2023", OPHI MPI Methodological Note 55, and the indicator table
  of Alkire, Kanagaratnam & Suppa, Scientific Data (2024), "The global
  Multidimensional Poverty Index: harmonised level estimates and their changes over
  time", Table 1 (https://www.nature.com/articles/s41597-024-04269-x/tables/1): ten
  indicators in three equally weighted dimensions, 1/6 each for education and
  health, 1/18 each for living standards.
- UNDP HDRO, "What makes an individual multidimensionally poor?"
  (http://hdr.undp.org/en/content/what-makes-individual-multidimensionally-poor):
  poor if "deprived in one third or more of the weighted indicators"; vulnerable
  "one fifth or more but less than one third"; severe "one half or more".
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Any

DIMENSIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "education": ("years_of_schooling", "school_attendance"),
        "health": ("child_mortality", "nutrition"),
        "living_standards": (
            "electricity",
            "sanitation",
            "drinking_water",
            "housing",
            "cooking_fuel",
            "assets",
        ),
    }
)
INDICATORS: tuple[str, ...] = tuple(name for group in DIMENSIONS.values() for name in group)
# Nested weights: each dimension 1/3, split equally among its indicators.
WEIGHTS: Mapping[str, Fraction] = MappingProxyType(
    {name: Fraction(1, 3) / len(group) for group in DIMENSIONS.values() for name in group}
)

POVERTY_CUTOFF = Fraction(1, 3)  # poor: c >= 1/3 ("one third or more")
VULNERABLE = Fraction(1, 5)  # vulnerable: 1/5 <= c < 1/3 ("one fifth or more but less than")
SEVERE = Fraction(1, 2)  # severe: c >= 1/2 ("one half or more")

CSV_ID, CSV_SIZE = "household_id", "size"


@dataclass(frozen=True)
class Household:
    """One row of the deprivation matrix.

    ``size`` is the number of people (the person weight, >= 1); ``deprivations``
    maps each indicator name to 0 (not deprived) or 1 (deprived).
    """

    id: str
    size: int
    deprivations: Mapping[str, int]


@dataclass(frozen=True)
class HouseholdResult:
    """A household's deprivation score ``c_i`` and status at cutoff ``k``.

    ``vulnerable`` and ``severe`` use the published fixed bands (1/5 <= c < 1/3,
    c >= 1/2) whatever ``k`` is; ``poor`` and ``censored_score`` use ``k``.
    """

    id: str
    size: int
    score: Fraction
    poor: bool
    vulnerable: bool
    severe: bool
    censored_score: Fraction


@dataclass(frozen=True)
class MpiResult:
    """Per-household results and the people-weighted aggregates (all exact)."""

    households: tuple[HouseholdResult, ...]
    k: Fraction
    weights: Mapping[str, Fraction]
    population: int
    poor_population: int
    headcount: Fraction  # H
    intensity: Fraction  # A; 0 when nobody is poor
    mpi: Fraction  # M0 = H * A
    censored_headcount: Mapping[str, Fraction]  # h_j, a share of all people
    contribution: Mapping[str, Fraction | None]  # percent; None when MPI is 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: every Fraction as ``{"exact": "p/q", "float": x}``."""
        return {
            "k": exact(self.k),
            "population": self.population,
            "poor_population": self.poor_population,
            "H": exact(self.headcount),
            "A": exact(self.intensity),
            "MPI": exact(self.mpi),
            "indicators": {
                name: {
                    "weight": exact(weight),
                    "censored_headcount": exact(self.censored_headcount[name]),
                    "contribution_pct": exact(self.contribution[name]),
                }
                for name, weight in self.weights.items()
            },
            "households": [
                {
                    "household_id": h.id,
                    "size": h.size,
                    "score": exact(h.score),
                    "censored_score": exact(h.censored_score),
                    "poor": h.poor,
                    "vulnerable": h.vulnerable,
                    "severe": h.severe,
                }
                for h in self.households
            ],
        }


def exact(value: Fraction | None) -> dict[str, Any] | None:
    """``Fraction(1, 3)`` -> ``{"exact": "1/3", "float": 0.333…}``; ``None`` stays ``None``."""
    if value is None:
        return None
    return {"exact": str(value), "float": float(value)}


def parse_fraction(text: str) -> Fraction:
    """``"1/3"`` -> 1/3, ``"0.33"`` -> 33/100 (decimals are read exactly, not as floats).

    Raises ``ValueError`` on anything else.
    """
    try:
        return Fraction(text.strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"not a fraction or decimal: {text!r}") from exc


def validate_weights(weights: Mapping[str, Fraction]) -> None:
    """Raise ``ValueError`` unless every weight is an exact positive number and they sum to 1."""
    if not weights:
        raise ValueError("weights: no indicators")
    for name, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, Fraction | int):
            raise ValueError(f"weight of {name!r} must be a Fraction or int, got {weight!r}")
        if weight <= 0:
            raise ValueError(f"weight of {name!r} must be positive, got {weight}")
    total = sum(weights.values(), Fraction(0))
    if total != 1:
        raise ValueError(f"weights must sum to 1, they sum to {total}")


def _validate_k(k: Fraction) -> None:
    if isinstance(k, bool) or not isinstance(k, Fraction | int):
        raise ValueError(f"k must be a Fraction or int, got {k!r}")
    if not 0 < k <= 1:
        raise ValueError(f"k must be in (0, 1], got {k}")


def _validate_household(household: Household, indicators: Mapping[str, Fraction]) -> None:
    where = f"household {household.id!r}"
    if isinstance(household.size, bool) or not isinstance(household.size, int):
        raise ValueError(f"{where}: size must be an int, got {household.size!r}")
    if household.size < 1:
        raise ValueError(f"{where}: size must be >= 1, got {household.size}")
    missing = [name for name in indicators if name not in household.deprivations]
    if missing:
        raise ValueError(f"{where}: missing indicator(s) {', '.join(missing)}")
    unknown = [name for name in household.deprivations if name not in indicators]
    if unknown:
        raise ValueError(f"{where}: unknown indicator(s) {', '.join(unknown)}")
    for name, flag in household.deprivations.items():
        if isinstance(flag, bool) or not isinstance(flag, int) or flag not in (0, 1):
            raise ValueError(f"{where}: {name} must be 0 or 1, got {flag!r}")


def deprivation_score(
    deprivations: Mapping[str, int], weights: Mapping[str, Fraction] = WEIGHTS
) -> Fraction:
    """``c = sum_j w_j * g_j`` for one household's 0/1 flags (not validated here)."""
    return sum((weights[name] * deprivations[name] for name in weights), Fraction(0))


def measure(
    households: Iterable[Household],
    *,
    weights: Mapping[str, Fraction] = WEIGHTS,
    k: Fraction = POVERTY_CUTOFF,
) -> MpiResult:
    """Identify the poor at cutoff ``k`` and aggregate, people-weighted by ``size``.

    ``weights`` maps indicator name -> weight and defines the indicator set (the
    global MPI's ``WEIGHTS`` by default; any other set summing to 1 works, e.g. the
    four equally weighted dimensions of Alkire & Foster's 2011 example).

    Raises ``ValueError`` on: no households; a duplicate id; a missing or unknown
    indicator; a flag other than 0/1; size < 1; weights not exact, not positive or
    not summing to 1; ``k`` outside (0, 1].
    """
    rows = list(households)
    if not rows:
        raise ValueError("no households")
    validate_weights(weights)
    _validate_k(k)
    k = Fraction(k)
    seen: set[str] = set()
    for household in rows:
        if household.id in seen:
            raise ValueError(f"household {household.id!r} appears twice")
        seen.add(household.id)
        _validate_household(household, weights)

    results = []
    for household in rows:
        score = deprivation_score(household.deprivations, weights)
        poor = score >= k
        results.append(
            HouseholdResult(
                id=household.id,
                size=household.size,
                score=score,
                poor=poor,
                vulnerable=VULNERABLE <= score < POVERTY_CUTOFF,
                severe=score >= SEVERE,
                censored_score=score if poor else Fraction(0),
            )
        )

    population = sum(h.size for h in rows)
    poor_rows = [(h, r) for h, r in zip(rows, results, strict=True) if r.poor]
    poor_population = sum(h.size for h, _ in poor_rows)
    headcount = Fraction(poor_population, population)
    weighted_scores = sum((h.size * r.score for h, r in poor_rows), Fraction(0))
    intensity = weighted_scores / poor_population if poor_population else Fraction(0)
    mpi = headcount * intensity
    censored = {
        name: Fraction(sum(h.size * h.deprivations[name] for h, _ in poor_rows), population)
        for name in weights
    }
    contribution: dict[str, Fraction | None] = {
        name: (weights[name] * censored[name] / mpi * 100 if mpi else None) for name in weights
    }
    return MpiResult(
        households=tuple(results),
        k=k,
        weights=MappingProxyType(dict(weights)),
        population=population,
        poor_population=poor_population,
        headcount=headcount,
        intensity=intensity,
        mpi=mpi,
        censored_headcount=MappingProxyType(censored),
        contribution=MappingProxyType(contribution),
    )


def read_csv(lines: Iterable[str], indicators: Sequence[str] = INDICATORS) -> list[Household]:
    """Read the ``flask mpi`` file: ``household_id,size`` then one 0/1 column per indicator.

    Columns may come in any order; all of ``household_id``, ``size`` and
    ``indicators`` must be present and any other column is rejected (a misspelt
    indicator is then reported, not silently ignored). Cells are stripped; blank
    lines are skipped. Raises ``ValueError`` naming the line number.
    """
    reader = csv.reader(lines)
    header: list[str] | None = None
    households: list[Household] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            _check_header(header, indicators, line)
            continue
        if len(cells) != len(header):
            raise ValueError(f"line {line}: {len(cells)} columns, the header has {len(header)}")
        record = dict(zip(header, cells, strict=True))
        household = _household_from_record(record, indicators, line)
        if household.id in seen:
            raise ValueError(f"line {line}: household_id {household.id!r} appears twice")
        seen.add(household.id)
        households.append(household)
    if header is None:
        raise ValueError("the file is empty")
    if not households:
        raise ValueError("no households after the header")
    return households


def _check_header(header: list[str], indicators: Sequence[str], line: int) -> None:
    expected = [CSV_ID, CSV_SIZE, *indicators]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ValueError(f"line {line}: duplicate column(s) {', '.join(duplicates)}")
    missing = [name for name in expected if name not in header]
    extra = [name for name in header if name not in expected]
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unknown column(s) {', '.join(extra)}")
    if problems:
        raise ValueError(f"line {line}: {'; '.join(problems)} (expected: {', '.join(expected)})")


def _household_from_record(
    record: Mapping[str, str], indicators: Sequence[str], line: int
) -> Household:
    household_id = record[CSV_ID]
    if not household_id:
        raise ValueError(f"line {line}: empty household_id")
    size_text = record[CSV_SIZE]
    if not size_text.isdigit() or int(size_text) < 1:
        raise ValueError(f"line {line}: size must be a whole number >= 1, got {size_text!r}")
    flags = {}
    for name in indicators:
        value = record[name]
        if value not in ("0", "1"):
            raise ValueError(f"line {line}: {name} must be 0 or 1, got {value!r}")
        flags[name] = int(value)
    return Household(id=household_id, size=int(size_text), deprivations=flags)

"""The console's analytics tables: one definition feeds the page and its CSV.

Each table is a header and rows of ``Cell``s built from stored figures
(``domain.analytics``). A cell knows its kind (a count, a share, a percent…)
and how many households stand behind it, which is what exports need to
suppress small cells.

Small-cell suppression (exports only; the console itself shows every figure to
signed-in staff): a figure resting on 1 to 4 households is not written. A
count becomes ``<5``; a share, a percent or a people count resting on so few
households is left empty. A row for an area with fewer than 5 households
surveyed is suppressed whole (``<5`` households, nothing else), and so is every
table about such an area (its indicators, gaps, water, FIES, hardship and change:
every figure left empty, zeros too, since with two households a 0 tells as much
as a 2). Elsewhere zero is written: it discloses nobody. This is the
usual threshold of statistical offices (e.g. the UK ONS and US CDC publish no
cell under 5); complementary disclosure (a parent's total minus the other
children's) is not guarded against.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Literal

from domain import labels, mpi
from domain.analytics import (
    FIES_CLASSES,
    GUARANTEES,
    HARDSHIPS,
    SUMMARY,
    WATER_LEVELS,
    AreaFigures,
)

SMALL_CELL = 5  # fewer households than this behind a figure: not exported
SUPPRESSED = "<5"

# "count": households; "people": people, resting on the households of ``basis``.
Kind = Literal["text", "count", "people", "share", "percent", "index"]

INDICATOR_NAMES = labels.INDICATORS
DIMENSION_OF = labels.DIMENSION_OF
GUARANTEE_NAMES = labels.GUARANTEES
WATER_NAMES = labels.WATER_LEVELS
FIES_NAMES = {
    "secure": "Food secure (0)",
    "mild": "Mild (1–3)",
    "moderate": "Moderate (4–6)",
    "severe": "Severe (7–8)",
}
HARDSHIP_NAMES = {
    "illness": "Illness",
    "disability": "Disability",
    "education": "School fees",
    "labour": "No labour",
    "land": "No land",
    "water": "No water",
    "skills": "No skills",
    "capital": "No funds",
    "disaster": "Disaster",
    "other": "Other",
}


@dataclass(frozen=True)
class Cell:
    """One table cell. ``basis`` is the number of households the figure rests
    on (None: not personal, e.g. a label or a weight). ``link`` is an area id
    to drill down to."""

    value: int | Fraction | str | None
    kind: Kind = "text"
    basis: int | None = None
    link: int | None = None

    def suppressed(self) -> bool:
        return self.basis is not None and 0 < self.basis < SMALL_CELL

    def csv(self) -> str:
        """The exported text: suppressed, or a plain number (shares 0–1 with
        4 decimals, percents with 1, the MPI with 4)."""
        if self.suppressed():
            return SUPPRESSED if self.kind == "count" else ""
        value = self.value
        if value is None:
            return ""
        if isinstance(value, Fraction):
            digits = 1 if self.kind == "percent" else 4
            return f"{float(value):.{digits}f}"
        return str(value)

    def text(self) -> str:
        """The page's text: 12,345; 37.2%; 0.167."""
        value = self.value
        if value is None:
            return "–"
        if self.kind == "share" and isinstance(value, Fraction):
            return f"{float(value) * 100:.1f}%"
        if self.kind == "percent" and isinstance(value, Fraction):
            return f"{float(value):.1f}%"
        if self.kind == "index" and isinstance(value, Fraction):
            return f"{float(value):.3f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)


@dataclass(frozen=True)
class Table:
    name: str  # in URLs: /export/<name>.csv
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    area_rows: bool = False  # one row per area: suppressed whole under SMALL_CELL
    base: int | None = None  # the households of the one area it is about, if it is

    def csv_rows(self) -> Iterator[list[str]]:
        """The rows as exported: small cells suppressed, and every figure of a
        table about one area with fewer than ``SMALL_CELL`` households."""
        whole = self.base is not None and 0 < self.base < SMALL_CELL
        for row in self.rows:
            if whole:  # even a 0 would tell about two or three households
                yield [cell.csv() if cell.kind == "text" else "" for cell in row]
            elif self.area_rows and _row_suppressed(row):
                yield _suppressed_row(row)
            else:
                yield [cell.csv() for cell in row]


def _suppressed_row(row: Sequence[Cell]) -> list[str]:
    """An area under ``SMALL_CELL`` households: its names, ``<5`` households, no figures."""
    out, first = [], True
    for cell in row:
        if cell.kind == "text":
            out.append(cell.csv())
        elif first:
            out.append(SUPPRESSED if cell.value else "0")
            first = False
        else:
            out.append("")
    return out


def _row_suppressed(row: Sequence[Cell]) -> bool:
    households = next((c for c in row if c.kind == "count"), None)
    return (
        households is not None
        and isinstance(households.value, int)
        and (0 < households.value < SMALL_CELL)
    )


def _count(f: AreaFigures, measure: str, people: bool = False) -> Cell:
    return Cell(f.count(measure, people), "people" if people else "count", f.count(measure))


def _share(f: AreaFigures, measure: str, people: bool = False) -> Cell:
    return Cell(f.share(measure, people=people), "share", f.count(measure))


AREA_HEADER = (
    "Households surveyed",
    "People",
    "H (poor people)",
    "A (intensity)",
    "MPI",
    "Vulnerable people",
    "Severely poor people",
    "Left poverty (households)",
)


def area_cells(f: AreaFigures) -> list[Cell]:
    """The summary of one area, in ``AREA_HEADER``'s order."""
    return summary_cells(
        f.households, {column: f.count(m, bool(k)) for column, (m, k) in SUMMARY.items()}
    )


def summary_cells(households: int, c: Mapping[str, int]) -> list[Cell]:
    """The summary from ``households`` and the summary columns ``c``
    (``domain.analytics.SUMMARY``): what an export of every village reads, so
    it is computed here directly, not through ``AreaFigures``."""
    people, poor_h, poor_p = c["people"], c["poor_households"], c["poor_people"]
    h = Fraction(poor_p, people) if people else None
    a = Fraction(c["poor_score18"], 18 * poor_p) if poor_p else None
    m = None if h is None else (h * a if a is not None else Fraction(0))
    return [
        Cell(households, "count", households),
        Cell(people, "people", households),
        Cell(h, "share", poor_h),
        Cell(a, "share", poor_h),
        Cell(m, "index", poor_h),
        Cell(
            Fraction(c["vulnerable_people"], people) if people else None,
            "share",
            c["vulnerable_households"],
        ),
        Cell(
            Fraction(c["severe_people"], people) if people else None,
            "share",
            c["severe_households"],
        ),
        Cell(c["left_poverty"], "count", c["left_poverty"]),
    ]


AreaRow = tuple[Sequence[str], int, "AreaFigures | tuple[int, Mapping[str, int]]"]


def areas_table(
    name: str,
    title: str,
    rows: Sequence[AreaRow],
    names: Sequence[str],
) -> Table:
    """One row per area: its name columns (``names`` headers), then the summary,
    from its figures or from ``(households, summary columns)``."""
    out = [
        [
            Cell(label, link=area_id if i == len(labels) - 1 else None)
            for i, label in enumerate(labels)
        ]
        + (area_cells(f) if isinstance(f, AreaFigures) else summary_cells(*f))
        for labels, area_id, f in rows
    ]
    return Table(name, title, (*names, *AREA_HEADER), out, area_rows=True)


def indicators_table(f: AreaFigures) -> Table:
    rows = [
        [
            Cell(DIMENSION_OF[name]),
            Cell(INDICATOR_NAMES[name]),
            Cell(str(mpi.WEIGHTS[name])),  # exact: 1/6, 1/18
            _share(f, f"deprived:{name}", people=True),
            Cell(f.censored(name), "share", f.count(f"censored:{name}")),
            Cell(f.contribution(name), "percent", f.count(f"censored:{name}")),
        ]
        for name in mpi.INDICATORS
    ]
    header = (
        "Dimension",
        "Indicator",
        "Weight",
        "Deprived (share of people)",
        "Censored headcount ratio",
        "Contribution to MPI (%)",
    )
    return Table("indicators", "Indicators", header, rows)


def guarantees_table(f: AreaFigures) -> Table:
    rows = [
        [Cell(GUARANTEE_NAMES[need]), _count(f, f"lacks:{need}"), _share(f, f"lacks:{need}")]
        for need in GUARANTEES
    ]
    rows.append([Cell("All met"), _count(f, "guarantees_met"), _share(f, "guarantees_met")])
    header = ("Need", "Households lacking it", "Share of households")
    return Table("guarantees", "Two no-worries, three guarantees, safe water", header, rows)


def water_table(f: AreaFigures) -> Table:
    rows = [
        [
            Cell(WATER_NAMES[level]),
            _count(f, f"water:{level}"),
            Cell(f.count(f"water:{level}", True), "people", f.count(f"water:{level}")),
            _share(f, f"water:{level}", people=True),
        ]
        for level in WATER_LEVELS
    ]
    header = ("Drinking-water service level (JMP)", "Households", "People", "Share of people")
    return Table("water", "Drinking-water ladder", header, rows)


def fies_table(f: AreaFigures) -> Table:
    rows = [
        [Cell(FIES_NAMES[c]), _count(f, f"fies:{c}"), _share(f, f"fies:{c}")] for c in FIES_CLASSES
    ]
    header = ("FIES raw score", "Households", "Share of households")
    return Table("fies", "Food insecurity (FIES)", header, rows)


def hardship_table(f: AreaFigures) -> Table:
    named = sum(f.count(f"hardship:{c}") for c in HARDSHIPS)
    order = sorted(HARDSHIPS, key=lambda c: (-f.count(f"hardship:{c}"), HARDSHIPS.index(c)))
    rows = [
        [
            Cell(HARDSHIP_NAMES[c]),
            _count(f, f"hardship:{c}"),
            Cell(
                Fraction(f.count(f"hardship:{c}"), named) if named else None,
                "share",
                f.count(f"hardship:{c}"),
            ),
        ]
        for c in order
    ]
    header = ("Main hardship", "Households", "Share of households naming one")
    return Table("hardship", "Main causes of hardship", header, rows)


def change_table(f: AreaFigures, previous: str | None) -> Table:
    before = f.count("poor_before")
    left = f.count("left_poverty")
    rows = [
        [Cell("Surveyed in both rounds"), _count(f, "both_rounds")],
        [Cell("Poor in the previous round"), _count(f, "poor_before")],
        [Cell("Left poverty"), _count(f, "left_poverty")],
        [Cell("Fell into poverty"), _count(f, "fell_into_poverty")],
        [
            Cell("Share of the poor who left"),
            Cell(Fraction(left, before) if before else None, "share", left),
        ],
    ]
    title = f"Change since {previous}" if previous else "Change between rounds"
    return Table("change", title, ("Households", "Number"), rows)


def area_tables(f: AreaFigures, previous: str | None) -> list[Table]:
    """Every table about one area but its children, in page order; exported,
    each is suppressed whole when the area has fewer than ``SMALL_CELL``
    households."""
    tables = [
        indicators_table(f),
        guarantees_table(f),
        water_table(f),
        fies_table(f),
        hardship_table(f),
        change_table(f, previous),
    ]
    return [replace(t, base=f.households) for t in tables]

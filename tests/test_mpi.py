"""The Alkire–Foster measure against published worked examples, to the exact fraction.

Sources of the fixtures: ``tests/fixtures/mpi-examples.md``.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from domain import mpi
from domain.mpi import INDICATORS, WEIGHTS, Household, measure

FIXTURES = Path(__file__).parent / "fixtures"
F = Fraction


def _load(name: str, indicators: tuple[str, ...] = INDICATORS) -> list[Household]:
    with (FIXTURES / name).open(newline="") as fh:
        return mpi.read_csv(fh, indicators)


def _one(score_indicators: dict[str, int], size: int = 1) -> Household:
    flags = dict.fromkeys(INDICATORS, 0) | score_indicators
    return Household(id="h", size=size, deprivations=flags)


# -- the published examples ------------------------------------------------------


def test_hdr_2010_example_scores_h_a_and_mpi() -> None:
    result = measure(_load("mpi-hdr2010-example.csv"))

    # Published weighted counts out of 10: 2.22, 7.22, 3.89, 5.00.
    assert [h.score for h in result.households] == [F(2, 9), F(13, 18), F(7, 18), F(1, 2)]
    assert [round(h.score * 10, 2) for h in result.households] == [
        F("2.22"),
        F("7.22"),
        F("3.89"),
        F("5.00"),
    ]
    assert [h.poor for h in result.households] == [False, True, True, True]
    assert result.population == 20 and result.poor_population == 16
    # H = (7+5+4)/(4+7+5+4) = 0.80; A = (7.22*7 + 3.89*5 + 5.00*4)/(16*10) = 0.56; MPI = 0.450
    assert result.headcount == F(4, 5)
    assert result.intensity == F(9, 16)
    assert result.mpi == F(9, 20)
    assert round(result.intensity, 2) == F("0.56") and round(result.mpi, 3) == F("0.450")


def test_hdr_2010_example_bands_and_censoring() -> None:
    households = measure(_load("mpi-hdr2010-example.csv")).households

    # 2/9 is in [1/5, 1/3): vulnerable, not poor; its censored score is 0.
    assert households[0].vulnerable and not households[0].poor
    assert households[0].censored_score == 0
    # Household 4 scores exactly 1/2: severe.
    assert [h.severe for h in households] == [False, True, False, True]
    assert [h.censored_score for h in households[1:]] == [F(13, 18), F(7, 18), F(1, 2)]


def test_hdr_2010_example_censored_headcounts_and_contributions() -> None:
    result = measure(_load("mpi-hdr2010-example.csv"))

    # Household 1 (4 people) is not poor, so its child death and fuel are censored out.
    assert dict(result.censored_headcount) == {
        "years_of_schooling": F(11, 20),
        "school_attendance": F(7, 20),
        "child_mortality": F(11, 20),
        "nutrition": F(5, 20),
        "electricity": F(16, 20),
        "sanitation": F(12, 20),
        "drinking_water": F(5, 20),
        "housing": F(0),
        "cooking_fuel": F(16, 20),
        "assets": F(11, 20),
    }
    assert result.contribution["years_of_schooling"] == F(550, 27)
    assert result.contribution["housing"] == 0
    assert sum(c for c in result.contribution.values() if c is not None) == 100
    # MPI is also the weighted sum of the censored headcount ratios.
    assert sum(WEIGHTS[j] * h for j, h in result.censored_headcount.items()) == result.mpi


def test_hdr_2010_example_with_the_2010_cutoff_of_3_in_10() -> None:
    # The 2010 report identified the poor by c >= 3 (of 10): same poor, same figures.
    result = measure(_load("mpi-hdr2010-example.csv"), k=F(3, 10))

    assert (result.headcount, result.intensity, result.mpi) == (F(4, 5), F(9, 16), F(9, 20))


AF_DIMENSIONS = ("d1", "d2", "d3", "d4")
AF_WEIGHTS = dict.fromkeys(AF_DIMENSIONS, F(1, 4))


def test_alkire_foster_2011_example_at_k_2_of_4() -> None:
    result = measure(_load("mpi-af2011-example.csv", AF_DIMENSIONS), weights=AF_WEIGHTS, k=F(1, 2))

    assert [h.score for h in result.households] == [0, F(1, 2), 1, F(1, 4)]  # c = (0, 2, 4, 1)
    assert [h.poor for h in result.households] == [False, True, True, False]
    assert (result.headcount, result.intensity, result.mpi) == (F(1, 2), F(3, 4), F(3, 8))
    assert list(result.censored_headcount.values()) == [F(1, 4), F(1, 2), F(1, 4), F(1, 2)]
    assert list(result.contribution.values()) == [F(50, 3), F(100, 3), F(50, 3), F(100, 3)]


@pytest.mark.parametrize(
    ("k", "headcount", "intensity"),
    [
        (F(1, 4), F(3, 4), F(7, 12)),  # union-like: anyone deprived in 1 of 4
        (F(1, 2), F(1, 2), F(3, 4)),
        (F(3, 4), F(1, 4), F(1)),
        (F(1), F(1, 4), F(1)),  # intersection: deprived in all four
    ],
)
def test_alkire_foster_2011_example_across_k(
    k: Fraction, headcount: Fraction, intensity: Fraction
) -> None:
    result = measure(_load("mpi-af2011-example.csv", AF_DIMENSIONS), weights=AF_WEIGHTS, k=k)

    assert (result.headcount, result.intensity, result.mpi) == (
        headcount,
        intensity,
        headcount * intensity,
    )


def test_box_5_5_same_m0_different_incidence_and_intensity() -> None:
    # Alkire et al. (2015) Box 5.5: X' has c = (0, 0.5, 0.5, 0.5). The matrix rows are
    # ours; only the scores are published.
    rows = [[0, 0, 0, 0], [0, 1, 0, 1], [1, 1, 0, 0], [0, 1, 1, 0]]
    society = [
        Household(id=str(i), size=1, deprivations=dict(zip(AF_DIMENSIONS, row, strict=True)))
        for i, row in enumerate(rows, 1)
    ]
    result = measure(society, weights=AF_WEIGHTS, k=F(1, 2))

    assert (result.headcount, result.intensity, result.mpi) == (F(3, 4), F(1, 2), F(3, 8))


# -- weights and boundaries ----------------------------------------------------------


def test_weights_are_exact_and_sum_to_one() -> None:
    assert tuple(WEIGHTS) == INDICATORS
    assert sum(WEIGHTS.values()) == 1
    assert all(WEIGHTS[j] == F(1, 6) for j in INDICATORS[:4])
    assert all(WEIGHTS[j] == F(1, 18) for j in INDICATORS[4:])
    for dimension, names in mpi.DIMENSIONS.items():
        assert sum(WEIGHTS[j] for j in names) == F(1, 3), dimension


@pytest.mark.parametrize(
    ("deprived", "score", "poor", "vulnerable", "severe"),
    [
        ({}, F(0), False, False, False),
        # 1/6 + 1/18 = 2/9, in [1/5, 1/3): vulnerable.
        ({"child_mortality": 1, "assets": 1}, F(2, 9), False, True, False),
        # 3/18 = 1/6 < 1/5: nothing.
        ({"electricity": 1, "sanitation": 1, "assets": 1}, F(1, 6), False, False, False),
        # Exactly 1/5 is not reachable with the global weights: see the next test.
        # Exactly 1/3: poor ("one third or more"), not vulnerable.
        ({"years_of_schooling": 1, "school_attendance": 1}, F(1, 3), True, False, False),
        # 1/6 + 3/18 = 1/3 as well, from two dimensions.
        (
            {"child_mortality": 1, "electricity": 1, "sanitation": 1, "assets": 1},
            F(1, 3),
            True,
            False,
            False,
        ),
        # Just under 1/3: 1/6 + 2/18 = 5/18.
        ({"nutrition": 1, "housing": 1, "cooking_fuel": 1}, F(5, 18), False, True, False),
        # Exactly 1/2: severe.
        (
            {"years_of_schooling": 1, "school_attendance": 1, "nutrition": 1},
            F(1, 2),
            True,
            False,
            True,
        ),
        # Under 1/2: 2/6 + 2/18 = 4/9, poor but not severe.
        (
            {"years_of_schooling": 1, "nutrition": 1, "electricity": 1, "housing": 1},
            F(4, 9),
            True,
            False,
            False,
        ),
        (dict.fromkeys(INDICATORS, 1), F(1), True, False, True),
    ],
)
def test_boundaries_with_global_weights(
    deprived: dict[str, int], score: Fraction, poor: bool, vulnerable: bool, severe: bool
) -> None:
    household = measure([_one(deprived)]).households[0]

    assert household.score == score
    assert (household.poor, household.vulnerable, household.severe) == (poor, vulnerable, severe)


def test_exactly_one_fifth_is_vulnerable() -> None:
    # Five equal weights make a score of exactly 1/5 reachable.
    weights = dict.fromkeys("abcde", F(1, 5))
    flags = {"a": 1, "b": 0, "c": 0, "d": 0, "e": 0}
    household = measure([Household("h", 1, flags)], weights=weights).households[0]

    assert household.score == F(1, 5)
    assert household.vulnerable and not household.poor


def test_k_override_changes_poor_not_the_published_bands() -> None:
    household = _one({"years_of_schooling": 1, "school_attendance": 1})  # 1/3
    strict = measure([household], k=F(1, 2))

    assert not strict.households[0].poor
    assert strict.headcount == 0 and strict.intensity == 0 and strict.mpi == 0
    assert all(c is None for c in strict.contribution.values())  # MPI 0: undefined
    assert not strict.households[0].vulnerable  # the band is 1/5 <= c < 1/3, fixed

    loose = measure([household], k=F(33, 100))
    assert loose.households[0].poor and loose.mpi == F(1, 3)


def test_people_weighting_by_size() -> None:
    poor = Household("a", 3, dict.fromkeys(INDICATORS, 1))
    rich = Household("b", 1, dict.fromkeys(INDICATORS, 0))
    result = measure([poor, rich])

    assert result.headcount == F(3, 4) and result.intensity == 1 and result.mpi == F(3, 4)


def test_to_dict_is_json_safe_with_exact_and_float() -> None:
    data = measure(_load("mpi-hdr2010-example.csv")).to_dict()

    assert data["MPI"] == {"exact": "9/20", "float": 0.45}
    assert data["H"] == {"exact": "4/5", "float": 0.8}
    assert data["households"][0]["score"] == {"exact": "2/9", "float": 2 / 9}
    assert data["indicators"]["housing"]["contribution_pct"] == {"exact": "0", "float": 0.0}


# -- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("households", "kwargs", "message"),
    [
        ([], {}, "no households"),
        ([Household("h", 0, dict.fromkeys(INDICATORS, 0))], {}, "size must be >= 1"),
        ([Household("h", 1, dict.fromkeys(INDICATORS[:9], 0))], {}, "missing indicator"),
        (
            [Household("h", 1, dict.fromkeys(INDICATORS, 0) | {"income": 0})],
            {},
            "unknown indicator",
        ),
        ([Household("h", 1, dict.fromkeys(INDICATORS, 2))], {}, "must be 0 or 1"),
        ([Household("h", 1, dict.fromkeys(INDICATORS, True))], {}, "must be 0 or 1"),
        ([_one({}), _one({})], {}, "appears twice"),
        ([_one({})], {"k": F(0)}, "k must be in (0, 1]"),
        ([_one({})], {"k": F(11, 10)}, "k must be in (0, 1]"),
        ([_one({})], {"k": 0.33}, "k must be a Fraction"),
        ([_one({})], {"weights": dict.fromkeys(INDICATORS, F(1, 9))}, "sum to 1"),
        ([_one({})], {"weights": dict.fromkeys(INDICATORS, 0.1)}, "must be a Fraction"),
        ([_one({})], {"weights": {}}, "no indicators"),
    ],
)
def test_measure_rejects(
    households: list[Household], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        measure(households, **kwargs)  # type: ignore[arg-type]


HEADER = "household_id,size," + ",".join(INDICATORS)
ROW = "a,2," + ",".join("0" * 10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (HEADER + "\n", "no households"),
        ("household_id,size\n" + "a,1\n", "line 1: missing column"),
        (HEADER + ",income\n" + ROW + ",5\n", "line 1: unknown column"),
        (HEADER + ",size\n", "line 1: duplicate column"),
        (HEADER + "\n" + ROW + "\na,2,0\n", "line 3: 3 columns"),
        (HEADER + "\n" + ROW.replace("a,2", "b,0") + "\n", "line 2: size"),
        (HEADER + "\n" + ROW.replace("a,2", "b,x") + "\n", "line 2: size"),
        (HEADER + "\n" + ROW[:-1] + "2\n", "line 2: assets must be 0 or 1"),
        (HEADER + "\n" + ROW + "\n" + ROW + "\n", "line 3: household_id 'a' appears twice"),
        (HEADER + "\n" + ROW.replace("a,", ",", 1) + "\n", "line 2: empty household_id"),
    ],
)
def test_read_csv_rejects_with_line_numbers(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mpi.read_csv(text.splitlines(keepends=True))


def test_read_csv_accepts_any_column_order_spaces_and_blank_lines() -> None:
    columns = list(reversed(["household_id", "size", *INDICATORS]))
    values = list(reversed(["x", "3", *("1" if j == "nutrition" else "0" for j in INDICATORS)]))
    text = ", ".join(columns) + "\n\n" + ", ".join(values) + "\n"

    (household,) = mpi.read_csv(text.splitlines(keepends=True))

    assert household.id == "x" and household.size == 3
    assert household.deprivations["nutrition"] == 1 and sum(household.deprivations.values()) == 1


@pytest.mark.parametrize(("text", "value"), [("1/3", F(1, 3)), ("0.33", F(33, 100)), (" 1 ", F(1))])
def test_parse_fraction(text: str, value: Fraction) -> None:
    assert mpi.parse_fraction(text) == value


@pytest.mark.parametrize("text", ["", "a third", "1/0"])
def test_parse_fraction_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        mpi.parse_fraction(text)

"""Household classification from survey answers: MPI flags, JMP ladders, FIES, 两不愁三保障."""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

import pytest

from domain import classification as cl
from domain.mpi import INDICATORS
from tests.factories import household, member

F = Fraction


def flags(answers: dict[str, Any], **kwargs: Any) -> set[str]:
    return {name for name, flag in cl.deprivations(answers, **kwargs).items() if flag}


# -- whole households ----------------------------------------------------------------


def test_household_deprived_in_nothing() -> None:
    result = cl.classify(household())

    assert list(result.deprivations) == list(INDICATORS)
    assert result.score == 0 and not (result.poor or result.vulnerable or result.severe)
    assert (result.water_level, result.sanitation_level) == ("basic", "basic")
    assert result.fies_raw_score == 0 and result.food_insecurity == "secure"
    assert result.guarantees_met
    assert result.members == 3 and result.members_able_to_work == 2


def test_poor_household_end_to_end() -> None:
    answers = household(
        member(45, m_schooling=3, m_chronic="yes"),
        member(12, m_in_school="no", m_undernourished="yes", m_schooling=2),
        member(30, m_schooling=4, m_insured="no", m_disability="yes", m_can_work="no"),
        child_died="yes",
        water_source="unprotected_spring",
        water_minutes=45,
        toilet="pit_no_slab",
        cooking_fuel="wood",
        electricity="no",
        floor="earth",
        assets=["radio"],
        meals=1,
        house_safe="no",
        clothing="no",
        **{item: "yes" for item in cl.FIES_ITEMS[:5]},
    )
    result = cl.classify(answers)

    assert flags(answers) == set(INDICATORS)  # deprived in all ten
    assert result.score == 1 and result.poor and result.severe and not result.vulnerable
    assert (result.water_level, result.sanitation_level) == ("unimproved", "unimproved")
    assert result.fies_raw_score == 5 and result.food_insecurity == "moderate"
    assert not any(
        (
            result.food_ok,
            result.clothing_ok,
            result.education_ok,
            result.medical_ok,
            result.housing_ok,
            result.water_ok,
        )
    )
    assert not result.guarantees_met
    assert result.children_6_15_out_of_school == 1
    assert result.members_able_to_work == 1
    assert result.members_with_disability == 1 and result.members_chronically_ill == 1


def test_score_comes_from_the_mpi_module_exactly_one_third() -> None:
    # Child death (1/6) + electricity, sanitation, fuel (3/18) = 1/3 exactly: poor.
    answers = household(
        child_died="yes", electricity="no", toilet_shared="yes", cooking_fuel="wood"
    )
    result = cl.classify(answers)

    assert flags(answers) == {"child_mortality", "electricity", "sanitation", "cooking_fuel"}
    assert result.score == F(1, 3) and result.poor and not result.vulnerable


def test_to_dict_is_json_safe() -> None:
    import json

    data = cl.classify(household(child_died="yes", electricity="no")).to_dict()

    assert data["score"] == "2/9" and data["score_float"] == pytest.approx(2 / 9)
    assert data["vulnerable"] is True and data["deprivations"]["child_mortality"] == 1
    assert json.loads(json.dumps(data)) == data


# -- education -----------------------------------------------------------------------


def test_years_of_schooling_needs_a_member_10_plus_with_6_years() -> None:
    assert "years_of_schooling" not in flags(household(member(40, m_schooling=6)))
    assert "years_of_schooling" in flags(household(member(40, m_schooling=5)))
    # A child under 10 with 6 years does not count; one aged 10 does.
    assert "years_of_schooling" in flags(household(member(40, m_schooling=0), member(9)))
    assert "years_of_schooling" in flags(
        household(member(40, m_schooling=0), member(9, m_schooling=6))
    )
    assert "years_of_schooling" not in flags(
        household(member(40, m_schooling=0), member(10, m_schooling=6))
    )


def test_no_member_aged_10_plus_is_deprived_in_schooling_as_ophi_does() -> None:
    assert "years_of_schooling" in flags(household(member(9, m_schooling=3), member(4)))


@pytest.mark.parametrize(("age", "deprived"), [(5, False), (6, True), (14, True), (15, False)])
def test_school_attendance_ages_6_to_14(age: int, deprived: bool) -> None:
    child = member(age, m_in_school="no") if 6 <= age <= 15 else member(age)
    answers = household(member(40), child)

    assert ("school_attendance" in flags(answers)) is deprived


def test_school_attendance_range_is_a_parameter() -> None:
    answers = household(member(40), member(15, m_in_school="no"))

    assert "school_attendance" not in flags(answers)
    assert "school_attendance" in flags(answers, attendance_ages=(6, 15))
    with pytest.raises(ValueError, match="attendance_ages"):
        cl.deprivations(answers, attendance_ages=(5, 14))


def test_out_of_school_15_year_old_fails_compulsory_education_not_mpi() -> None:
    result = cl.classify(household(member(40), member(15, m_in_school="no")))

    assert result.deprivations["school_attendance"] == 0
    assert not result.education_ok and result.children_6_15_out_of_school == 1


def test_household_with_no_school_aged_child_is_not_deprived_in_attendance() -> None:
    assert "school_attendance" not in flags(household(member(40), member(2)))


# -- health --------------------------------------------------------------------------


def test_nutrition_only_counts_members_under_70() -> None:
    assert "nutrition" in flags(household(member(40), member(3, m_undernourished="yes")))
    assert "nutrition" not in flags(household(member(40, m_schooling=8), member(75)))


def test_child_mortality() -> None:
    assert "child_mortality" in flags(household(child_died="yes"))


# -- water ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "level", "deprived"),
    [
        (0, "basic", False),
        (29, "basic", False),
        (30, "basic", True),  # JMP: "not more than 30"; MPI: "30 minutes or longer"
        (31, "limited", True),
    ],
)
def test_water_minutes_boundary(minutes: int, level: str, deprived: bool) -> None:
    answers = household(water_source="public_tap", water_minutes=minutes)
    result = cl.classify(answers)

    assert result.water_level == level
    assert result.deprivations["drinking_water"] == deprived
    assert result.water_ok is (level == "basic")


@pytest.mark.parametrize(
    ("source", "level", "deprived"),
    [
        ("piped_dwelling", "basic", False),
        ("borehole", "basic", False),
        ("protected_well", "basic", False),
        ("protected_spring", "basic", False),
        ("rainwater", "basic", False),
        ("tanker", "basic", False),
        ("bottled", "basic", False),
        ("unprotected_well", "unimproved", True),
        ("unprotected_spring", "unimproved", True),
        ("surface", "surface_water", True),
    ],
)
def test_water_sources(source: str, level: str, deprived: bool) -> None:
    extra = {} if source == "piped_dwelling" else {"water_minutes": 10}
    result = cl.classify(household(water_source=source, **extra))

    assert (result.water_level, result.deprivations["drinking_water"]) == (level, deprived)


# -- sanitation, housing, fuel, assets ----------------------------------------------------


@pytest.mark.parametrize(
    ("toilet", "shared", "level"),
    [
        ("flush_sewer", "no", "basic"),
        ("vip", "no", "basic"),
        ("pit_slab", "yes", "limited"),
        ("composting", "yes", "limited"),
        ("pit_no_slab", "no", "unimproved"),
        ("bucket", "no", "unimproved"),
        ("flush_open", "no", "unimproved"),
        ("none", None, "open_defecation"),
    ],
)
def test_sanitation_ladder(toilet: str, shared: str | None, level: str) -> None:
    answers = household(toilet=toilet, toilet_shared=shared)
    if shared is None:
        del answers["toilet_shared"]
    result = cl.classify(answers)

    assert result.sanitation_level == level
    assert result.deprivations["sanitation"] == (level != "basic")


@pytest.mark.parametrize(
    ("floor", "roof", "walls", "deprived"),
    [
        ("finished", "finished", "finished", False),
        ("rudimentary", "finished", "finished", False),  # only a natural floor counts
        ("earth", "finished", "finished", True),
        ("finished", "rudimentary", "finished", True),
        ("finished", "finished", "natural", True),
    ],
)
def test_housing(floor: str, roof: str, walls: str, deprived: bool) -> None:
    answers = household(floor=floor, roof=roof, walls=walls)

    assert ("housing" in flags(answers)) is deprived


@pytest.mark.parametrize(
    ("fuel", "deprived"),
    [
        ("dung", True),
        ("straw", True),
        ("wood", True),
        ("charcoal", True),
        ("coal", True),
        ("kerosene", False),
        ("lpg", False),
        ("biogas", False),
        ("electricity", False),
        ("none", False),
    ],
)
def test_cooking_fuel(fuel: str, deprived: bool) -> None:
    assert ("cooking_fuel" in flags(household(cooking_fuel=fuel))) is deprived


@pytest.mark.parametrize(
    ("assets", "deprived"),
    [
        (["none"], True),
        (["radio"], True),
        (["radio", "bicycle"], False),
        (["car"], False),
        (["fridge", "car"], False),
    ],
)
def test_assets(assets: list[str], deprived: bool) -> None:
    assert ("assets" in flags(household(assets=assets))) is deprived


# -- FIES and the two no-worries ----------------------------------------------------------


@pytest.mark.parametrize(
    ("yes_count", "label", "food_ok"),
    [
        (0, "secure", True),
        (1, "mild", True),
        (3, "mild", True),
        (4, "moderate", False),
        (6, "moderate", False),
        (7, "severe", False),
        (8, "severe", False),
    ],
)
def test_fies_raw_score_and_class(yes_count: int, label: str, food_ok: bool) -> None:
    answers = household(**{item: "yes" for item in cl.FIES_ITEMS[:yes_count]})
    result = cl.classify(answers)

    assert (result.fies_raw_score, result.food_insecurity, result.food_ok) == (
        yes_count,
        label,
        food_ok,
    )


def test_food_ok_needs_two_meals() -> None:
    assert cl.classify(household(meals=2)).food_ok
    assert not cl.classify(household(meals=1)).food_ok


def test_medical_ok_needs_every_member_insured() -> None:
    result = cl.classify(household(member(40), member(8, m_insured="no")))

    assert not result.medical_ok and not result.guarantees_met


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["members", "member", "child_died", "fies_hungry", "meals", "water_source", "assets"]
)
def test_missing_household_key_is_named(key: str) -> None:
    answers = household()
    del answers[key]

    with pytest.raises(ValueError, match=key):
        cl.classify(answers)


def test_missing_water_minutes_when_asked() -> None:
    with pytest.raises(ValueError, match="water_minutes"):
        cl.classify(household(water_source="borehole"))


def test_missing_toilet_shared_when_asked() -> None:
    answers = household()
    del answers["toilet_shared"]

    with pytest.raises(ValueError, match="toilet_shared"):
        cl.classify(answers)


@pytest.mark.parametrize(
    ("age", "key"),
    [
        (40, "m_age"),
        (40, "m_insured"),
        (12, "m_in_school"),
        (40, "m_schooling"),
        (5, "m_undernourished"),
    ],
)
def test_missing_member_key_is_named_with_its_index(age: int, key: str) -> None:
    answers = household(member(40), member(age))
    del answers["member"][1][key]

    with pytest.raises(ValueError, match=rf"member\[1\]\.{key}"):
        cl.classify(answers)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"members": 2}, "members is 2 but member lists 3"),
        ({"electricity": "maybe"}, "electricity must be one of"),
        ({"water_source": "river"}, "water_source must be one of"),
        ({"meals": "3"}, "meals must be a whole number"),
        ({"assets": "radio"}, "assets must be a list"),
    ],
)
def test_bad_values(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cl.classify(household(**override))


def test_answers_are_not_modified() -> None:
    answers = household()
    before = copy.deepcopy(answers)
    cl.classify(answers)

    assert answers == before


@pytest.mark.parametrize("raw", [-1, 9])
def test_food_insecurity_class_rejects_out_of_range(raw: int) -> None:
    with pytest.raises(ValueError):
        cl.food_insecurity_class(raw)


def test_members_aged_70_plus_are_counted_for_older_persons_programmes() -> None:
    result = cl.classify(household(member(72), member(69), member(70)))
    assert result.members_aged_70_plus == 2
    assert cl.classify(household()).members_aged_70_plus == 0

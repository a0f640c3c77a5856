"""``domain.household_search``: finding households by name and area within a
user's areas, a page at a time; and a household's record, survey by survey."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import db_session
from domain import household_search as hs
from domain.console_users import visible_areas
from domain.household_search import SearchError, area_picker, household_record, search
from models import Area, ConsoleRole, SurveyRound
from tests.factories import create_completed_household, resurvey_household
from tests.test_console_auth import make_user

OTHER_CADRE = "+254700000902"  # demo/staff.yaml: Shinyalu (Kakamega), Chwele (Bungoma)
#: Deprived in the six living standards (6 × 1/18 = 1/3): poor, not severely.
POOR = {
    "electricity": "no",
    "toilet": "none",
    "water_source": "surface",
    "water_minutes": 10,
    "floor": "earth",
    "cooking_fuel": "wood",
    "assets": ["none"],
}


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    with app.app_context():
        yield db_session()


def _area(db: Session, name: str) -> int:
    found = db.scalar(select(Area.id).where(Area.name == name))
    assert found is not None
    return found


def _household(db: Session, name: str, village: str = "Kombewa", **answers: object) -> int:
    cadre = OTHER_CADRE if village in ("Shinyalu", "Chwele") else "+254700000901"
    done = create_completed_household(
        db, cadre_msisdn=cadre, village=str(_area(db, village)), head_name=name, **answers
    )
    return int(done.household_id)


def _names(results: hs.Results) -> list[str]:
    return [r.head_name for r in results.rows]


def test_a_name_is_found_by_any_part_in_any_case(db: Session) -> None:
    first = _household(db, "Wanjiru Kamau", head_phone="+254711000001")
    _household(db, "Otieno Odhiambo", "Ahero")
    third = _household(db, "Akinyi Wanjiru", "Shinyalu", **POOR)
    found = search(db, name="  WANJ ", visible=None)
    assert _names(found) == ["Akinyi Wanjiru", "Wanjiru Kamau"]  # newest survey first
    assert found.page == 1 and found.has_next is False
    row = found.rows[1]
    assert row.household_id == first
    assert row.msisdn == "+2547******01"
    assert (row.village, row.county, row.round) == ("Kombewa", "Kisumu", "2026")
    assert (row.score, row.status) == ("0", "not poor")
    poor = found.rows[0]
    assert (poor.household_id, poor.score, poor.status) == (third, "1/3", "poor")
    assert (poor.poor, poor.vulnerable, poor.severe) == (True, False, False)
    assert row.surveyed_at is not None and row.surveyed_at.tzinfo is not None
    assert _names(search(db, name="wanjiru k", visible=None)) == ["Wanjiru Kamau"]
    assert _names(search(db, name="Nobody", visible=None)) == []


def test_letters_beyond_ascii_are_found_in_any_case_on_every_database(db: Session) -> None:
    _household(db, "ÉLODIE ÖZTÜRK")
    for typed in ("ÉLODIE", "élodie", "öztürk", "Élodie Öz"):
        assert _names(search(db, name=typed, visible=None)) == ["ÉLODIE ÖZTÜRK"], typed


def test_by_name_order_and_a_household_surveyed_again_moves_up(db: Session) -> None:
    first = _household(db, "Baraka Ochieng")
    _household(db, "Achieng Atieno")
    assert _names(search(db, name="ch", visible=None)) == ["Achieng Atieno", "Baraka Ochieng"]
    resurvey_household(db, first, head_name="Baraka Ochieng")
    assert _names(search(db, name="ch", visible=None)) == ["Baraka Ochieng", "Achieng Atieno"]
    by_name = search(db, name="CH", visible=None, order="name")
    assert _names(by_name) == ["Achieng Atieno", "Baraka Ochieng"]
    assert _names(search(db, name="ch", visible=None, order="bogus"))[0] == "Baraka Ochieng"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a", "Type at least 2 letters of the name."),
        (" b ", "Type at least 2 letters of the name."),
        ("%", "Type at least 2 letters of the name."),
        ("ab\x00c", "The name may not contain control characters."),
        ("ab\ncd", "The name may not contain control characters."),
        ("x" * 81, "A name is at most 80 characters."),
        ("", "Type part of the head's name, or choose an area."),
    ],
)
def test_bad_names_are_refused_in_words(db: Session, name: str, message: str) -> None:
    with pytest.raises(SearchError) as caught:
        search(db, name=name, visible=None)
    assert str(caught.value) == message


def test_wildcards_typed_are_literal(db: Session) -> None:
    for name in ("Mama 50% Maize", "Mama 500 Maize", "A_B Group", "AxB Group", "Back\\slash"):
        _household(db, name)
    assert _names(search(db, name="0%", visible=None)) == ["Mama 50% Maize"]
    assert _names(search(db, name="%%", visible=None)) == []
    assert _names(search(db, name="a_b", visible=None)) == ["A_B Group"]
    assert _names(search(db, name="__", visible=None)) == []
    assert _names(search(db, name="k\\s", visible=None)) == ["Back\\slash"]
    assert hs.like_pattern("50%_O\\") == "%50\\%\\_o\\\\%"


def test_by_village_county_or_province(db: Session) -> None:
    _household(db, "Wanjiru Kamau", "Kombewa")
    _household(db, "Otieno Odhiambo", "Ahero")
    _household(db, "Akinyi Wanjiru", "Shinyalu")
    _household(db, "Wafula Barasa", "Chwele")
    assert _names(search(db, area_id=_area(db, "Ahero"), visible=None)) == ["Otieno Odhiambo"]
    kisumu = search(db, area_id=_area(db, "Kisumu"), visible=None, order="name")
    assert _names(kisumu) == ["Otieno Odhiambo", "Wanjiru Kamau"]
    western = search(db, area_id=_area(db, "Western"), visible=None, order="name")
    assert _names(western) == ["Akinyi Wanjiru", "Wafula Barasa"]
    both = search(db, name="wanjiru", area_id=_area(db, "Western"), visible=None)
    assert _names(both) == ["Akinyi Wanjiru"]


def test_a_supervisor_finds_only_their_areas(app: Flask, db: Session) -> None:
    _household(db, "Wanjiru Kamau", "Kombewa")
    _household(db, "Akinyi Wanjiru", "Shinyalu")
    make_user(app, "wafula", role=ConsoleRole.SUPERVISOR, areas=["Kakamega"])
    from domain.console_users import find_user

    user = find_user(db, "wafula")
    assert user is not None
    visible = visible_areas(db, user)
    assert _names(search(db, name="wanjiru", visible=visible)) == ["Akinyi Wanjiru"]
    assert _names(search(db, area_id=_area(db, "Kisumu"), visible=visible)) == []
    assert _names(search(db, area_id=_area(db, "Kombewa"), visible=visible)) == []
    assert _names(search(db, area_id=_area(db, "Western"), visible=visible)) == ["Akinyi Wanjiru"]


def test_pages_know_whether_another_follows(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hs, "PAGE_SIZE", 2)
    for name in ("Amani One", "Amani Two", "Amani Three"):
        _household(db, name)
    first = search(db, name="amani", visible=None, order="name")
    assert (_names(first), first.page, first.has_next) == (["Amani One", "Amani Three"], 1, True)
    second = search(db, name="amani", visible=None, order="name", page=2)
    assert (_names(second), second.has_next) == (["Amani Two"], False)
    far = search(db, name="amani", visible=None, page=10**9)
    assert (far.page, far.rows, far.has_next) == (hs.MAX_PAGE, [], False)
    assert search(db, name="amani", visible=None, page=-3).page == 1


def test_the_area_picker_drills_down(app: Flask, db: Session) -> None:
    top = area_picker(db, None, None)
    assert (top.chosen, top.path) == (None, [])
    assert [n for _, n in top.options] == ["Coast", "Nyanza", "Western"]
    kisumu = _area(db, "Kisumu")
    at = area_picker(db, None, kisumu)
    assert at.chosen == kisumu
    assert [n for _, n in at.path] == ["Nyanza", "Kisumu"]
    assert [n for _, n in at.options] == ["Ahero", "Katito", "Kombewa", "Pap Onditi"]
    make_user(app, "wafula", role=ConsoleRole.SUPERVISOR, areas=["Kakamega"])
    from domain.console_users import find_user

    user = find_user(db, "wafula")
    assert user is not None
    visible = visible_areas(db, user)
    mine = area_picker(db, visible, None)
    assert [n for _, n in mine.options] == ["Kakamega"]
    assert area_picker(db, visible, kisumu).chosen is None  # not theirs: ignored
    assert [n for _, n in area_picker(db, visible, _area(db, "Shinyalu")).path] == [
        "Kakamega",
        "Shinyalu",
    ]


def _earlier_round(db: Session) -> int:
    found = db.scalar(select(SurveyRound).where(SurveyRound.name == "2025"))
    if found is None:  # opened long ago, so "2026" stays the current round
        found = SurveyRound(name="2025", opened_at=datetime(2025, 1, 1, tzinfo=UTC))
        db.add(found)
        db.commit()
    return found.id


def test_a_record_shows_every_survey_and_what_changed(db: Session) -> None:
    earlier = _earlier_round(db)
    household = _household(db, "Wanjiru Kamau", "Kombewa", head_phone="+254711000001", **POOR)
    # The first survey was in the earlier round: move it there.
    from models import HouseholdSurvey

    first = db.scalars(select(HouseholdSurvey).where(HouseholdSurvey.household_id == household))
    first.one().round_id = earlier
    db.commit()
    resurvey_household(
        db,
        household,
        head_name="Wanjiru Kamau",
        head_phone="+254711000001",
        electricity="no",
        clothing="no",
    )
    record = household_record(db, household, None)
    assert record is not None
    assert (record.head_name, record.msisdn) == ("Wanjiru Kamau", "+254711000001")
    assert (record.village, record.county, record.province) == ("Kombewa", "Kisumu", "Nyanza")
    before, now = record.surveys
    assert (before.round, now.round) == ("2025", "2026")
    assert before.cadre == "Achieng Odhiambo"
    assert (before.score, before.status, before.change) == ("1/3", "poor", None)
    deprived = [i.label for i in before.indicators if i.deprived]
    assert deprived == [
        "Electricity",
        "Sanitation",
        "Drinking water",
        "Housing",
        "Cooking fuel",
        "Assets",
    ]
    assert {i.dimension for i in before.indicators} == {"Education", "Health", "Living standards"}
    assert (before.water, before.sanitation) == ("Surface water", "Open defecation")
    assert (before.food_insecurity, before.fies_score, before.hardship) == (
        "Food secure",
        0,
        "No funds",
    )
    assert ("Safe drinking water (JMP basic)", False) in before.guarantees
    assert (now.score, now.status) == ("1/18", "not poor")
    change = now.change
    assert change is not None
    assert (change.score_before, change.left_poverty, change.fell_into_poverty) == (
        "1/3",
        True,
        False,
    )
    assert change.lost == ["Sanitation", "Drinking water", "Housing", "Cooking fuel", "Assets"]
    assert change.gained == []
    assert change.guarantees_now_met == ["Safe drinking water (JMP basic)"]
    assert change.guarantees_now_unmet == ["Enough clothing (no worry)"]
    assert ("Name of the household head?", "Wanjiru Kamau") in now.answers
    assert ("Which village?", "Kombewa") in now.answers
    assert ("Drinking water from?", "Home tap") in now.answers
    assert ("Household owns? (pick all)", "Radio, Phone") in now.answers
    assert len(now.roster) == 3 and ("Age in years? (0 if under 1)", "40") in now.roster[0]


def test_a_record_tells_who_fell_into_poverty(db: Session) -> None:
    household = _household(db, "Otieno Odhiambo", "Ahero")
    resurvey_household(db, household, head_name="Otieno Odhiambo", **POOR)
    record = household_record(db, household, None)
    assert record is not None
    change = record.surveys[-1].change
    assert change is not None
    assert (change.left_poverty, change.fell_into_poverty) == (False, True)
    assert change.gained == [
        "Electricity",
        "Sanitation",
        "Drinking water",
        "Housing",
        "Cooking fuel",
        "Assets",
    ]


def test_a_record_outside_the_areas_is_none(app: Flask, db: Session) -> None:
    household = _household(db, "Wanjiru Kamau", "Kombewa")
    kakamega = areas = [_area(db, "Kakamega"), _area(db, "Shinyalu")]
    assert household_record(db, household, kakamega) is None
    assert household_record(db, household, areas + [_area(db, "Kombewa")]) is not None
    assert household_record(db, 2**31 - 1, None) is None

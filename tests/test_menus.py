"""The journey as a graph, and every screen of it in every language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.db import db_session
from domain import content, surveys
from domain.campaigns import approved_templates
from domain.households import eligible_programmes, record_for
from domain.translation import LANGUAGES, gettext_for
from menus import MENUS
from menus.context import Context
from menus.engine import Engine
from menus.session import SessionState
from models import Cadre, Topic
from tests.factories import DEMO_CADRE, create_completed_household, member
from tests.screens import check_every_page
from tests.survey_screens import LONG_NAME, positions

CALLER = "+254700000101"

ROOTS = {"main:home", "main:choose_language"}


def _all_states() -> set[str]:
    return {f"{m.name}:{s.name}" for m in MENUS.values() for s in m.states}


def _edges() -> list[tuple[str, str, str]]:
    return [(f"{m.name}:{src}", trg, dest) for m in MENUS.values() for src, trg, dest in m.edges()]


def test_every_destination_exists() -> None:
    states = _all_states()
    missing = [(src, dest) for src, _trg, dest in _edges() if dest not in states]
    assert missing == []


def test_every_state_is_reachable_from_a_root() -> None:
    seen, todo = set(ROOTS), list(ROOTS)
    while todo:
        here = todo.pop()
        for src, _trg, dest in _edges():
            if src == here and dest not in seen:
                seen.add(dest)
                todo.append(dest)
    assert _all_states() - seen == set()


def test_every_non_final_state_has_a_way_back() -> None:
    for menu in MENUS.values():
        for st in menu.states:
            qualified = f"{menu.name}:{st.name}"
            if qualified in ROOTS or st.final:
                continue
            assert st.back is not None, f"{qualified} has no way back"


def test_machines_are_shared_without_auto_transitions(dial: Any) -> None:
    machines = {name: menu.machine for name, menu in MENUS.items()}
    for menu in MENUS.values():
        assert not any(t.startswith("to_") for t in menu.machine.events), menu.name
    dial("s-shared", "")
    dial("s-shared", "1")
    dial("s-shared", "1*1")
    for name, menu in MENUS.items():
        assert menu.machine is machines[name]  # not rebuilt per request
        assert menu.machine.models == []  # every session model was removed


def _contexts(app: Flask, engine: Engine, language: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (state, data) a caller can reach, with real demo content."""
    db = db_session()
    for menu in ("main", "household"):
        for st in MENUS[menu].states:
            if st.name not in ("record", "programme", "sent"):
                yield f"{menu}:{st.name}", {}
    yield from _staff_contexts(db)
    yield from _household_contexts(db, language)
    for topic in Topic:
        yield "content:categories", {"topic": topic.value}
        for cat_id, _name in content.list_categories(db, topic, language):
            yield "content:articles", {"topic": topic.value, "category": cat_id}
            for art_id, _title in content.list_articles(db, cat_id, language):
                data = {"topic": topic.value, "category": cat_id, "article": art_id}
                yield "content:article", data
                yield "content:sent", data


def _staff_contexts(db: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Staff and survey screens at their fullest: two drafts with the longest
    names, a household to survey again, every question of the survey."""
    cadre = db.scalars(select(Cadre).where(Cadre.msisdn == DEMO_CADRE)).one()
    sid = surveys.current_survey_id(db, "household")
    for i in range(2):
        surveys.save_draft(
            db,
            key=f"fit:{i}",
            cadre_id=cadre.id,
            survey_id=sid,
            answers={},
            position=["village"],
            question_no=120,
            label=LONG_NAME,
        )
    done = create_completed_household(db, head_name=LONG_NAME)
    staff = {"cadre": cadre.id}
    yield "staff:pin", {}
    for name in ("home", "drafts", "again_village"):
        yield f"staff:{name}", staff
    yield "staff:again_household", {**staff, "village": cadre.villages[0].id}
    form = surveys.form_for(db, sid)
    for pos, answers in positions(form):
        survey = {"key": "k", "sid": sid, "hh": None, "ans": answers, "pos": pos}
        yield "survey:question", {**staff, "survey": survey}
    result = {"name": LONG_NAME, "pct": 100, "poor": True, "severe": True, "vulnerable": False}
    yield "survey:done", {**staff, "result": result}
    assert done.household_id
    # Send SMS: the templates, the villages, each template's confirmation (some
    # fit the surveyed household, some do not), and the last screen.
    yield "staff_sms:template", staff
    for template in approved_templates(db):
        picked = {**staff, "sms_template": template.id}
        yield "staff_sms:village", picked
        yield "staff_sms:confirm", {**picked, "sms_village": cadre.villages[0].id}
    yield "staff_sms:sent", {**staff, "sms_campaign": 0}


def _household_contexts(db: Any, language: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """My household with a record that qualifies for every demo programme."""
    create_completed_household(
        db,
        head_name=LONG_NAME,
        head_phone=CALLER,
        member=[member(9, m_in_school="no", m_disability="yes")],
        members=1,
        water_source="surface",
        water_minutes=45,
        fies_worried="yes",
        fies_healthy="yes",
        fies_fewfood="yes",
        fies_skipped="yes",
        electricity="no",
        cooking_fuel="wood",
        floor="earth",
    )
    record = record_for(db, CALLER)
    assert record is not None
    opened = {"household_open": True}
    yield "household:record", opened
    programmes = eligible_programmes(db, record.survey, language)
    assert len(programmes) == 7, programmes  # every demo programme but health insurance
    for article_id, _title in programmes:
        yield "household:programme", {**opened, "article": article_id}
        yield "household:sent", {**opened, "article": article_id}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_screen_fits_in_every_language(app: Flask, language: str) -> None:
    engine: Engine = app.extensions["ngazi_ussd_engine"]
    checked = 0
    with app.app_context():
        for qualified, data in _contexts(app, engine, language):
            menu, _, name = qualified.partition(":")
            state = SessionState("+254700000101", 1, language, menu, name, data=dict(data))
            ctx = Context(
                "s",
                "+254700000101",
                1,
                language,
                db_session(),
                gettext_for(language),
                data=state.data,
            )
            checked += check_every_page(engine, state, ctx, (qualified, data))
    assert checked > 400  # 42 demo articles, two or more screens each

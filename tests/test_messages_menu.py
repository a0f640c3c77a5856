"""SMS messages from the main menu: stop them, start them again, pick topics."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.db import db_session
from domain.subscribers import TOPICS, opt_out, set_topic
from domain.translation import LANGUAGES, gettext_for
from menus import MENUS
from menus.context import Context
from menus.engine import Engine
from menus.session import SessionState
from models import Subscriber, Subscription
from tests.screens import check_every_page

CALLER = "+254700000101"


def _screen(dial: Any, session: str, *inputs: str) -> str:
    """Dial ``session`` input by input; the last screen."""
    body: str = dial(session, "").get_data(as_text=True)
    for i in range(1, len(inputs) + 1):
        body = dial(session, "*".join(inputs[:i])).get_data(as_text=True)
    return body


def _subscriber(app: Flask) -> Subscriber:
    with app.app_context():
        db = db_session()
        sub = db.scalars(select(Subscriber).where(Subscriber.msisdn == CALLER)).one()
        db.expunge(sub)
        return sub


def _topics(app: Flask) -> set[str]:
    with app.app_context():
        db = db_session()
        return set(db.scalars(select(Subscription.topic)))


def test_main_menu_offers_sms_messages(dial: Any) -> None:
    home = _screen(dial, "s-entry", "1")
    assert home.endswith("\n7 Language\n9 SMS messages")
    assert dial("s-entry", "1*9").get_data(as_text=True) == (
        "CON SMS messages\n1 Stop all messages\n2 Topics\n0 Back"
    )


def test_stop_all_messages_then_get_them_again(app: Flask, dial: Any) -> None:
    confirm = _screen(dial, "s-stop", "1", "9", "1")
    assert confirm == (
        "CON Stop all messages\nYou will get no more SMS from Ngazi.\n1 Stop\n0 Back 00 Home"
    )
    assert not _subscriber(app).opted_out
    done = dial("s-stop", "1*9*1*1").get_data(as_text=True)
    assert done == (
        "END SMS messages\nDone. You will get no SMS from Ngazi. Dial again to start them."
    )
    sub = _subscriber(app)
    assert sub.opted_out and sub.opt_out_source == "ussd" and sub.opted_out_at is not None

    # Dialling again: the language is known, the screen offers only to start again.
    assert dial("s-again", "").get_data(as_text=True).startswith("CON Ngazi main menu")
    again = dial("s-again", "9").get_data(as_text=True)
    assert again == "CON SMS messages\n1 Get messages again\n0 Back"
    assert dial("s-again", "9*2").get_data(as_text=True).startswith("CON Invalid choice.")
    started = dial("s-again", "9*2*1").get_data(as_text=True)
    assert started == ("CON SMS messages\nDone. You will get SMS from Ngazi again.\n0 Back 00 Home")
    sub = _subscriber(app)
    assert not sub.opted_out and sub.opt_out_source == "ussd"  # how it opted out is kept
    back = dial("s-again", "9*2*1*0").get_data(as_text=True)
    assert back == "CON SMS messages\n1 Stop all messages\n2 Topics\n0 Back"


def test_back_from_the_confirmation_stops_nothing(app: Flask, dial: Any) -> None:
    assert _screen(dial, "s-back", "1", "9", "1", "0").startswith("CON SMS messages\n1 Stop")
    assert not _subscriber(app).opted_out


def test_opted_out_by_sms_shows_get_messages_again(app: Flask, dial: Any) -> None:
    dial("s-first", "")
    dial("s-first", "1")  # English, remembered
    with app.app_context():
        opt_out(db_session(), CALLER, "sms")
        db_session().commit()
    assert dial("s-sms", "9").get_data(as_text=True) == (
        "CON SMS messages\n1 Get messages again\n0 Back"
    )


def test_a_shortcut_dial_stops_messages(app: Flask, dial: Any) -> None:
    dial("s-first", "")
    dial("s-first", "1")
    assert dial("s-short", "9*1*1").get_data(as_text=True).startswith("END SMS messages\nDone.")
    assert _subscriber(app).opted_out


def test_topics_toggle_and_persist(app: Flask, dial: Any) -> None:
    topics = _screen(dial, "s-topics", "1", "9", "2")
    assert topics == (
        "CON Topics\nChoose one to switch it on or off.\n1 Policies & benefits: off\n"
        "2 Health advice: off\n3 Education: off\n4 Jobs: off\n0 Back 00 Home"
    )
    on = dial("s-topics", "1*9*2*2").get_data(as_text=True)
    assert "\n2 Health advice: on\n" in on and "\n1 Policies & benefits: off\n" in on
    assert _topics(app) == {"health"}
    on = dial("s-topics", "1*9*2*2*4").get_data(as_text=True)
    assert "\n4 Jobs: on\n" in on
    assert _topics(app) == {"health", "jobs"}
    off = dial("s-topics", "1*9*2*2*4*2").get_data(as_text=True)
    assert "\n2 Health advice: off\n" in off and "\n4 Jobs: on\n" in off
    assert _topics(app) == {"jobs"}

    # A new session reads what was stored.
    stored = _screen(dial, "s-topics-2", "9", "2")
    assert "\n2 Health advice: off\n" in stored and "\n4 Jobs: on\n" in stored


def test_a_repeated_callback_does_not_toggle_twice(app: Flask, dial: Any) -> None:
    _screen(dial, "s-repeat", "1", "9", "2")
    first = dial("s-repeat", "1*9*2*3").get_data(as_text=True)
    assert "\n3 Education: on\n" in first
    for _ in range(2):  # the gateway sends the same callback again
        assert dial("s-repeat", "1*9*2*3").get_data(as_text=True) == first
    assert _topics(app) == {"education"}
    # A later, different callback for the same topic does switch it back.
    assert "\n3 Education: off\n" in dial("s-repeat", "1*9*2*3*3").get_data(as_text=True)
    assert _topics(app) == set()


def test_a_toggle_acts_on_what_the_screen_showed(app: Flask, dial: Any) -> None:
    """Run twice (two racing copies of a callback both apply it), a toggle sets
    the same value: it is computed from the session, not from the database."""
    _screen(dial, "s-race", "1", "9", "2")
    sub_id = _subscriber(app).id
    with app.app_context():
        db = db_session()
        ctx = Context("s-race", CALLER, sub_id, "en", db, gettext_for("en"))
        ctx.data = {"sms_off": False, "sms_topics": []}
        opt = MENUS["messages"].by_name["topics"].option("1")
        assert opt is not None and opt.effect is not None
        saved = dict(ctx.data)
        for _ in range(2):
            ctx.data = dict(saved)
            opt.effect(ctx)
    assert _topics(app) == {"policies"}


def _messages_contexts() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for st in MENUS["messages"].states:
        for off in (False, True):
            out.append((st.name, {"sms_off": off}))
    for on in ([], list(TOPICS)):
        out.append(("topics", {"sms_off": False, "sms_topics": on}))
    return out


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_messages_screen_fits_in_every_language(app: Flask, language: str) -> None:
    """As tests/test_menus.py checks the other menus: every state, both ways a
    caller can find it (opted in or out, topics all on or all off), with an
    error or a notice above it, every page."""
    engine: Engine = app.extensions["ngazi_ussd_engine"]
    checked = 0
    with app.app_context():
        db = db_session()
        for name, data in _messages_contexts():
            state = SessionState(CALLER, 1, language, "messages", name, data=dict(data))
            ctx = Context("s", CALLER, 1, language, db, gettext_for(language), data=state.data)
            checked += check_every_page(engine, state, ctx, (name, data))
    assert checked >= 48


def test_topics_are_those_subscribers_know() -> None:
    from menus.messages import TOPIC_NAMES

    assert tuple(TOPIC_NAMES) == TOPICS
    with pytest.raises(ValueError):
        set_topic(None, 1, "sports", True)  # type: ignore[arg-type]

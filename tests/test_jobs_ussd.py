"""Jobs over USSD, through the real /ussd webhook: the list near the caller, a
job's details, applying, and what happens when the job closes or the gateway
repeats a callback."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from babel.dates import format_date
from flask import Flask
from sqlalchemy import func, select

from app.db import db_session
from domain import demo, job_applications, jobs
from domain.subscribers import get_or_create_subscriber, set_home_area, set_language
from domain.translation import LANGUAGES, gettext_for
from menus import MENUS
from menus.context import Context
from menus.engine import Engine
from menus.session import SessionState
from models import Job, JobApplication, OutboundSms
from tests.jobs import run_jobs
from tests.screens import check_every_page
from tests.test_jobs import area

CALLER = "+254700000101"
CONTACT = "+254700000901"
APPLY = ["2", "1", "1", "Grace Akinyi", "2", "Rice 3 seasons"]


def _caller(app: Flask, *, village: str | None = "Kisumu/Ahero", language: str = "en") -> int:
    """The caller, known already: their language chosen, their home village set."""
    with app.app_context():
        db = db_session()
        sid, _ = get_or_create_subscriber(db, CALLER)
        set_language(db, sid, language)
        if village:
            set_home_area(db, CALLER, area(db, village).id)
        db.commit()
        return sid


def nairobi_today() -> date:
    """Today where the demo jobs are: the menu lists by the area's clock, and
    from 21:00 UTC Nairobi is already on the next day."""
    return jobs.local_today("Africa/Nairobi", datetime.now(UTC))


def _job(app: Flask, at: str = "Kisumu/Ahero", days: int = 10, **overrides: Any) -> int:
    """A job closing ``days`` from today (the menu lists by the clock)."""
    with app.app_context():
        db = db_session()
        fields: dict[str, Any] = {
            "titles": {"en": "Rice transplanting", "sw": "Kupandikiza mpunga"},
            "requirements": {"en": "Work in flooded fields."},
            "employer": "Ahero Rice Growers",
            "contact": CONTACT,
            "area_id": area(db, at).id,
            "wage": "450",
            "wage_period": "day",
            "currency": "KES",
            "slots": 12,
            "closes_on": nairobi_today() + timedelta(days=days),
            "now": datetime.now(UTC),
        }
        fields.update(overrides)
        job = jobs.add_job(db, **fields)
        db.commit()
        return job.id


def _close(app: Flask, job_id: int) -> None:
    with app.app_context():
        jobs.close_job(db_session(), job_id)
        db_session().commit()


def _walk(dial: Any, session: str, *inputs: str) -> str:
    """Dial ``session`` one input at a time, as a phone does; the last screen."""
    body: str = dial(session, "").get_data(as_text=True)
    for i in range(1, len(inputs) + 1):
        body = dial(session, "*".join(inputs[:i])).get_data(as_text=True)
    return body


def _applications(app: Flask) -> list[tuple[int, str, str, str, str]]:
    with app.app_context():
        rows = db_session().scalars(select(JobApplication).order_by(JobApplication.id))
        return [(a.job_id, a.msisdn, a.name, a.start, a.skills) for a in rows]


def _sms(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db_session().scalars(select(OutboundSms).order_by(OutboundSms.id))
        return [(r.msisdn, r.body) for r in rows]


def _closes(days: int) -> str:
    return format_date(nairobi_today() + timedelta(days=days), format="medium", locale="en")


def test_the_list_is_nearest_first(app: Flask, dial: Any) -> None:
    _caller(app)
    _job(app, at="Siaya/Sauri", titles={"en": "Health promoter"}, wage="3000", wage_period="month")
    _job(app, at="Kisumu/Kombewa", titles={"en": "Road works"}, wage="500")
    _job(app, at="Kilifi/Ganze", titles={"en": "Cashew pickers"}, days=3)
    _job(app)
    assert _walk(dial, "s-list", "2") == (
        "CON Jobs near you\n1 Rice transplanting, Ahero, KES 450/day\n"
        "2 Road works, Kombewa, KES 500/day\n3 Health promoter, Sauri, KES 3,000/month\n"
        "98 More\n0 Back"
    )
    assert dial("s-list", "2*98").get_data(as_text=True) == (
        "CON Jobs near you\n4 Cashew pickers, Ganze, KES 450/day\n0 Back"
    )
    assert dial("s-list", "2*98*0*0").get_data(as_text=True).startswith("CON Ngazi main menu")


def test_no_jobs_near(app: Flask, dial: Any) -> None:
    _caller(app)
    closed = _job(app)
    _close(app, closed)
    assert _walk(dial, "s-none", "2") == (
        "CON Jobs near you\nNo jobs open near you now. Please check again later.\n0 Back"
    )


def test_details_then_apply_then_sms(app: Flask, dial: Any) -> None:
    _caller(app)
    job_id = _job(app)
    details = _walk(dial, "s-apply", "2", "1")
    assert details == (
        "CON Rice transplanting\nAhero Rice Growers, Ahero\nKES 450/day. Places: 12\n"
        f"Closes {_closes(10)}\nNeeds: Work in flooded fields.\n1 Apply\n0 Back 00 Home"
    )
    assert dial("s-apply", "2*1*1").get_data(as_text=True) == "CON Your full name:\n0 Back"
    # A name with a digit: the hint, the same screen, nothing kept.
    assert dial("s-apply", "2*1*1*Grace 2").get_data(as_text=True) == (
        "CON Type your name, 2-60 letters.\n0 Back"
    )
    assert dial("s-apply", "2*1*1*Grace 2*Grace Akinyi").get_data(as_text=True) == (
        "CON When can you start?\n1 Now\n2 Within a week\n3 Within a month\n0 Back 00 Home"
    )
    typed = "2*1*1*Grace 2*Grace Akinyi*2"
    assert dial("s-apply", typed).get_data(as_text=True) == (
        "CON Your skills or work done before:\n1 Skip\n0 Back"
    )
    typed += "*Rice 3 seasons"
    assert dial("s-apply", typed).get_data(as_text=True) == (
        "CON Send application?\nRice transplanting. Name: Grace Akinyi. Start: Within a week. "
        "Skills: Rice 3 seasons.\n1 Send application\n0 Back 00 Home"
    )
    assert _applications(app) == []
    done = dial("s-apply", typed + "*1").get_data(as_text=True)
    [(_job_id, msisdn, name, start, skills)] = _applications(app)
    with app.app_context():
        application = db_session().scalars(select(JobApplication)).one()
        ref = job_applications.reference(application)
    assert ref == f"J{job_id}-A{application.id}"
    assert done == f"END Jobs\nApplication {ref} sent. We sent you a receipt by SMS."
    assert (_job_id, msisdn, name, start, skills) == (
        job_id,
        CALLER,
        "Grace Akinyi",
        "week",
        "Rice 3 seasons",
    )
    run_jobs(app)
    assert _sms(app) == [
        (
            CALLER,
            f"Ngazi: application {ref} for Rice transplanting, Ahero Rice Growers, Ahero is sent. "
            "The employer will call you if chosen.",
        ),
        (
            CONTACT,
            f"Ngazi job application {ref}: Rice transplanting, Ahero. Grace Akinyi, {CALLER}. "
            "Can start: Within a week. Skills: Rice 3 seasons",
        ),
    ]
    with app.app_context():
        statuses = set(db_session().scalars(select(OutboundSms.status)))
    assert {s.value for s in statuses} == {"sent"}  # both went out (the local outbox)


def test_a_repeated_callback_applies_once(app: Flask, dial: Any) -> None:
    _caller(app)
    _job(app)
    _walk(dial, "s-repeat", *APPLY)
    first = dial("s-repeat", "*".join([*APPLY, "1"])).get_data(as_text=True)
    for _ in range(2):  # the gateway sends the same callback again
        assert dial("s-repeat", "*".join([*APPLY, "1"])).get_data(as_text=True) == first
    assert len(_applications(app)) == 1
    assert len(_sms(app)) == 2


def test_applying_again_shows_the_reference(app: Flask, dial: Any) -> None:
    _caller(app)
    _job(app)
    _walk(dial, "s-first", *APPLY, "1")
    [_app] = _applications(app)
    with app.app_context():
        ref = job_applications.reference(db_session().scalars(select(JobApplication)).one())
    details = _walk(dial, "s-second", "2", "1")
    assert details.startswith(f"CON Rice transplanting\nYou applied: {ref}.\n")
    assert "1 Apply" not in details
    assert dial("s-second", "2*1*1").get_data(as_text=True).startswith("CON Invalid choice.")
    # Another session that reached the confirm screen before the first sent:
    # its send finds the first application, and nothing is queued twice.
    assert len(_applications(app)) == 1 and len(_sms(app)) == 2


def test_two_sessions_racing_apply_once(app: Flask, dial: Any) -> None:
    _caller(app)
    _job(app)
    _walk(dial, "s-a", *APPLY)
    _walk(dial, "s-b", *APPLY)
    a = dial("s-a", "*".join([*APPLY, "1"])).get_data(as_text=True)
    b = dial("s-b", "*".join([*APPLY, "1"])).get_data(as_text=True)
    assert a == b and a.startswith("END Jobs\nApplication J")
    assert len(_applications(app)) == 1 and len(_sms(app)) == 2


def test_a_job_closed_after_the_list_cannot_be_applied_for(app: Flask, dial: Any) -> None:
    _caller(app)
    job_id = _job(app)
    _walk(dial, "s-closed", "2")
    _close(app, job_id)
    details = dial("s-closed", "2*1").get_data(as_text=True)
    assert details.startswith("CON Rice transplanting\nThis job is closed.\n")
    assert "1 Apply" not in details


def test_a_job_that_closes_while_applying(app: Flask, dial: Any) -> None:
    _caller(app)
    job_id = _job(app)
    confirm = _walk(dial, "s-late", *APPLY)
    assert confirm.endswith("\n1 Send application\n0 Back 00 Home")
    _close(app, job_id)
    done = dial("s-late", "*".join([*APPLY, "1"])).get_data(as_text=True)
    assert done == "END Jobs\nSorry, this job has closed. Your application was not sent."
    assert _applications(app) == [] and _sms(app) == []


def test_a_job_past_its_closing_day_is_not_listed(app: Flask, dial: Any) -> None:
    _caller(app)
    job_id = _job(app, days=0)
    with app.app_context():  # its closing day passed (as at midnight in Nairobi)
        db_session().get(Job, job_id).closes_on = nairobi_today() - timedelta(days=2)  # type: ignore[union-attr]
        db_session().commit()
    assert "No jobs open near you now" in _walk(dial, "s-past", "2")


def test_skills_can_be_skipped(app: Flask, dial: Any) -> None:
    _caller(app)
    _job(app)
    confirm = _walk(dial, "s-skip", "2", "1", "1", "Grace Akinyi", "1", "1")
    assert confirm == (
        "CON Send application?\nRice transplanting. Name: Grace Akinyi. Start: Now. "
        "Skills: none given.\n1 Send application\n0 Back 00 Home"
    )
    dial("s-skip", "2*1*1*Grace Akinyi*1*1*1")
    assert _applications(app)[0][3:] == ("now", "")


def test_a_shortcut_dial_applies_once_the_path_proves_valid(app: Flask, dial: Any) -> None:
    _caller(app)
    _job(app)
    done = dial("s-short", "*".join([*APPLY, "1"])).get_data(as_text=True)
    assert done.startswith("END Jobs\nApplication J") and done.endswith(
        " sent. We sent you a receipt by SMS."
    )
    assert len(_applications(app)) == 1 and len(_sms(app)) == 2
    # A shortcut with a bad name does nothing: it restarts at home.
    bad = dial("s-short-2", "2*1*1*Grace 2*2*x*1").get_data(as_text=True)
    assert bad.startswith("CON Session restarted.") and len(_applications(app)) == 1


def test_a_caller_with_no_village_sees_every_open_job(app: Flask, dial: Any) -> None:
    _caller(app, village=None)
    _job(app, at="Kilifi/Ganze", titles={"en": "Cashew pickers"}, days=5)
    _job(app, days=8)
    assert _walk(dial, "s-all", "2") == (
        "CON Jobs near you\n1 Cashew pickers, Ganze, KES 450/day\n"
        "2 Rice transplanting, Ahero, KES 450/day\n0 Back"
    )


# -- every screen fits, in every language ---------------------------------------------------


def _contexts(app: Flask) -> list[tuple[str, dict[str, Any]]]:
    """Every jobs screen at its fullest: demo jobs (all four languages), a job
    with the longest title and requirements, one applied for, one closed."""
    with app.app_context():
        db = db_session()
        demo.load_jobs(db, datetime.now(UTC))
    long_id = _job(
        app,
        titles={lang: "W" * jobs.MAX_TITLE for lang in LANGUAGES},
        requirements={lang: "Needs " * 50 for lang in LANGUAGES},
        employer="E" * 80,
        wage="9999999999.99",
        wage_period="month",
        slots=jobs.MAX_SLOTS,
    )
    chinese_id = _job(app, titles={"en": "x", "zh": "长" * jobs.MAX_TITLE}, employer="雇" * 80)
    closed_id = _job(app)
    _close(app, closed_id)
    applied_id = _job(app, titles={"en": "Applied"})
    with app.app_context():
        db = db_session()
        job_applications.apply(
            db,
            db.get(Job, applied_id),  # type: ignore[arg-type]
            msisdn=CALLER,
            name="N" * 60,
            start="month",
            skills="S" * 100,
            language="en",
            now=datetime.now(UTC),
        )
        ids = [j.id for j in db.scalars(select(Job))]
    answers = {"job_name": "N" * 60, "job_start": "month", "job_skills": "S" * 100}
    out: list[tuple[str, dict[str, Any]]] = [("list", {})]
    for job_id in ids:
        for st in MENUS["jobs"].states:
            if st.name != "list":
                out.append((st.name, {"job": job_id, **answers}))
    assert {long_id, chinese_id, closed_id, applied_id} <= set(ids)
    return out


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_jobs_screen_fits_in_every_language(app: Flask, language: str) -> None:
    sid = _caller(app, language=language)
    contexts = _contexts(app)
    engine: Engine = app.extensions["ngazi_ussd_engine"]
    checked = 0
    with app.app_context():
        db = db_session()
        for name, data in contexts:
            state = SessionState(CALLER, sid, language, "jobs", name, data=dict(data))
            ctx = Context("s", CALLER, sid, language, db, gettext_for(language), data=state.data)
            checked += check_every_page(engine, state, ctx, (name, data))
    assert checked > 200
    with app.app_context():
        assert db_session().scalar(select(func.count()).select_from(Job)) == 10

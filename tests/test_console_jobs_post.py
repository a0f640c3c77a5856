"""Posting, editing and closing jobs in the console: what callers then see on
USSD, the alert to the county, per-field messages with nothing lost, editors
kept to their organisation's jobs, supervisors reading only, odd ids."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.db import db_session
from domain import jobs
from domain.subscribers import get_or_create_subscriber, set_home_area, set_language, set_topic
from models import Campaign, ConsoleRole, ConsoleUser, Job, JobApplication, JobStatus
from models.base import utcnow
from tests.test_console_auth import PASSWORD, csrf_token, login, make_user
from tests.test_content_admin import editor
from tests.test_jobs import area

CALLER = "+254700000101"


def _today() -> Any:
    return jobs.local_today("Africa/Nairobi", utcnow())  # the demo areas' time zone


def _ids(app: Flask, *names: str) -> list[int]:
    with app.app_context():
        return [area(db_session(), name).id for name in names]


def _fields(app: Flask, **overrides: str) -> dict[str, str]:
    county, village = _ids(app, "Kisumu", "Kisumu/Ahero")
    fields = {
        "title_en": "Rice transplanting",
        "title_sw": "Kupandikiza mpunga",
        "requirements_en": "Work in flooded fields.",
        "employer": "Ahero Rice Growers",
        "contact": "0700 000 901",
        "county": str(county),
        "village": str(village),
        "wage": "450",
        "wage_period": "day",
        "currency": "",
        "slots": "12",
        "closes_on": (_today() + timedelta(days=10)).isoformat(),
        "alert": "y",
        "save": "1",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def _post(client: FlaskClient, path: str, fields: dict[str, str]) -> Any:
    token = csrf_token(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **fields})


def _job(app: Flask, job_id: int | None = None) -> Job:
    with app.app_context():
        db = db_session()
        job = db.get(Job, job_id) if job_id else db.scalars(select(Job).order_by(Job.id)).first()
        assert job is not None
        db.expunge(job)
        return job


def _flashes(client: FlaskClient, resp: Any) -> list[str]:
    assert resp.status_code == 302, resp.get_data(as_text=True)
    page = client.get(resp.location).get_data(as_text=True)
    return [html.unescape(m) for m in re.findall(r'role="status">([^<]*)</p>', page)]


def _errors(page: str) -> dict[str, str]:
    return {
        name: html.unescape(text)
        for name, text in re.findall(r'data-testid="error-([a-z_]+)">([^<]*)<', page)
    }


def _subscribe(app: Flask, msisdn: str, village: str, language: str = "en") -> None:
    with app.app_context():
        db = db_session()
        sid, _ = get_or_create_subscriber(db, msisdn)
        set_language(db, sid, language)
        set_home_area(db, msisdn, area(db, village).id)
        set_topic(db, sid, "jobs", True)
        db.commit()


def _caller(app: Flask) -> None:
    """The caller, in English, living in Ahero."""
    with app.app_context():
        db = db_session()
        sid, _ = get_or_create_subscriber(db, CALLER)
        set_language(db, sid, "en")
        set_home_area(db, CALLER, area(db, "Kisumu/Ahero").id)
        db.commit()


def _ussd_list(dial: Any, session: str) -> str:
    dial(session, "")
    return str(dial(session, "2").get_data(as_text=True))


def _org(app: Flask, user_id: int) -> int | None:
    with app.app_context():
        user = db_session().get(ConsoleUser, user_id)
        assert user is not None
        return user.organisation_id


# -- posting --------------------------------------------------------------------------------


def test_an_admin_posts_a_job_callers_see_it_and_the_county_is_alerted(
    app: Flask, client: FlaskClient, dial: Any
) -> None:
    _subscribe(app, "+254700000121", "Kisumu/Kombewa")
    _subscribe(app, "+254700000122", "Kisumu/Ahero", "sw")
    _subscribe(app, "+254700000123", "Siaya/Sauri")  # another county
    make_user(app, "achieng")
    assert login(client, "achieng", PASSWORD).status_code == 302

    form = client.get("/console/jobs/new").get_data(as_text=True)
    assert 'name="alert" type="checkbox" value="y" checked' in form or "checked" in form
    resp = _post(client, "/console/jobs/new", _fields(app))
    job = _job(app)
    with app.app_context():
        campaign = db_session().scalars(select(Campaign)).one()
        assert campaign.dedup_key == f"job:{job.id}"
        assert campaign.audience["areas"] == [area(db_session(), "Kisumu").id]
        assert campaign.audience["topics"] == ["jobs"]
    notes = _flashes(client, resp)
    assert notes == [
        f"Job {job.id} posted: callers see it on USSD now.",
        f"Alert: campaign {campaign.id} to 2 subscribers to jobs in the county.",
    ]
    assert resp.location.endswith(f"/console/jobs/{job.id}")
    assert job.titles == {"en": "Rice transplanting", "sw": "Kupandikiza mpunga"}
    assert job.requirements == {"en": "Work in flooded fields."}
    assert (job.contact_msisdn, job.wage, job.currency, job.slots) == (
        "+254700000901",
        Decimal("450.00"),
        "KES",  # the area's own, the currency left empty
        12,
    )
    assert job.organisation_id is None and job.status is JobStatus.OPEN

    _caller(app)
    assert "1 Rice transplanting, Ahero, KES 450/day" in _ussd_list(dial, "s-posted")


def test_without_the_alert_no_campaign(app: Flask, client: FlaskClient) -> None:
    _subscribe(app, "+254700000121", "Kisumu/Kombewa")
    make_user(app, "achieng", role=ConsoleRole.OPERATOR)
    assert login(client, "achieng", PASSWORD).status_code == 302
    fields = _fields(app, village="")  # the whole county
    del fields["alert"]
    notes = _flashes(client, _post(client, "/console/jobs/new", fields))
    assert len(notes) == 1
    assert _job(app).area_id == _ids(app, "Kisumu")[0]
    with app.app_context():
        assert db_session().scalars(select(Campaign)).first() is None


def test_the_form_measures_each_language(app: Flask, client: FlaskClient) -> None:
    make_user(app, "achieng")
    assert login(client, "achieng", PASSWORD).status_code == 302
    long = "Rice transplanting and weeding in Ahero"  # 39 characters: cut in the list
    fields = _fields(app, title_en=long, title_zh="插秧工", update="1")
    del fields["save"]
    page = _post(client, "/console/jobs/new", fields).get_data(as_text=True)
    with app.app_context():
        assert db_session().scalars(select(Job)).first() is None  # "Update" saves nothing
    fits = dict(re.findall(r'data-testid="fit-([a-z]+)">(.*?)</div>', page, re.S))
    assert "title cut to fit" in fits["en"]
    assert "1 Rice transplanting and, Ahero, KES 450/day" in html.unescape(fits["en"])
    assert "No French title: callers read English." in fits["fr"]
    assert re.search(r'data-count="encoding">GSM-7<', fits["en"])
    assert re.search(r'data-count="encoding">UCS-2<', fits["zh"])
    assert re.search(r'data-count="parts">[1-9]<', fits["sw"])
    assert re.search(r'data-count="screens">[1-9]<', fits["fr"])
    assert "插秧工" in fits["zh"]


def test_bad_input_is_shown_field_by_field_and_kept(app: Flask, client: FlaskClient) -> None:
    make_user(app, "achieng")
    assert login(client, "achieng", PASSWORD).status_code == 302
    yesterday = (_today() - timedelta(days=1)).isoformat()
    fields = _fields(
        app,
        title_en="",
        title_sw="Kupandikiza mpunga wa Ahero kwa wiki mbili nzima",  # 47 > 40
        contact="12",
        wage="10.555",
        slots="many",
        closes_on=yesterday,
        employer="Ahero <Rice> Growers",
    )
    resp = _post(client, "/console/jobs/new", fields)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    errors = _errors(page)
    assert errors == {
        "title_en": "A job needs an English title.",
        "title_sw": "The sw title must be 1-40 characters of text.",
        "contact": "Contact '12' is not a phone number.",
        "wage": "The wage has at most 2 decimals.",
        "slots": "Places: a whole number, 1 to 10,000.",
        "closes_on": f"The closing date {yesterday} has passed (Africa/Nairobi).",
    }
    assert "Kupandikiza mpunga wa Ahero kwa wiki mbili nzima" in page  # kept
    assert "Ahero &lt;Rice&gt; Growers" in page and 'value="many"' in page
    with app.app_context():
        assert db_session().scalars(select(Job)).first() is None

    other = _ids(app, "Siaya/Sauri")[0]  # not a village of Kisumu
    resp = _post(client, "/console/jobs/new", _fields(app, village=str(other)))
    assert resp.status_code == 422
    assert _errors(resp.get_data(as_text=True)) == {
        "county": "That village is not in this county: choose it again."
    }
    for county in ("", "99999999999", "²", str(_ids(app, "Kisumu/Ahero")[0])):
        resp = _post(client, "/console/jobs/new", _fields(app, county=county, village=""))
        assert resp.status_code == 422
        assert _errors(resp.get_data(as_text=True)) == {"county": "Choose a county."}
    far = (_today() + timedelta(days=400)).isoformat()
    resp = _post(client, "/console/jobs/new", _fields(app, closes_on=far, wage="", currency="K1"))
    assert set(_errors(resp.get_data(as_text=True))) == {"closes_on", "wage", "currency"}


def test_csrf_is_required(app: Flask, client: FlaskClient) -> None:
    make_user(app, "achieng")
    assert login(client, "achieng", PASSWORD).status_code == 302
    assert client.post("/console/jobs/new", data=_fields(app)).status_code == 400
    with app.app_context():
        assert db_session().scalars(select(Job)).first() is None


# -- editing and closing ------------------------------------------------------------------------


def test_an_edit_shows_at_once_and_closing_tells_callers(
    app: Flask, client: FlaskClient, dial: Any
) -> None:
    make_user(app, "achieng")
    assert login(client, "achieng", PASSWORD).status_code == 302
    _post(client, "/console/jobs/new", _fields(app))
    job = _job(app)
    _caller(app)
    dial("s-edit", "")
    assert "1 Rice transplanting, Ahero, KES 450/day" in str(dial("s-edit", "2").get_data(True))

    edit = client.get(f"/console/jobs/{job.id}/edit").get_data(as_text=True)
    assert 'value="Rice transplanting"' in edit and 'value="+254700000901"' in edit
    fields = _fields(app, wage="500.50", title_en="Rice planting")
    del fields["alert"]
    notes = _flashes(client, _post(client, f"/console/jobs/{job.id}/edit", fields))
    assert notes == ["Saved: callers see the change now."]
    assert "1 Rice planting, Ahero, KES 500.5/day" in _ussd_list(dial, "s-edit2")
    assert _flashes(client, _post(client, f"/console/jobs/{job.id}/edit", fields)) == [
        "Nothing changed."
    ]
    resp = _post(client, f"/console/jobs/{job.id}/edit", {**fields, "slots": "0"})
    assert resp.status_code == 422
    assert _errors(resp.get_data(as_text=True)) == {"slots": "Slots must be 1-10000."}

    page = client.get(f"/console/jobs/{job.id}").get_data(as_text=True)
    notes = _flashes(
        client,
        client.post(f"/console/jobs/{job.id}/close", data={"csrf_token": csrf_token(page)}),
    )
    assert notes == ["Closed: it takes no more applications, and callers are told so."]
    assert _job(app, job.id).status is JobStatus.CLOSED
    page = client.get(f"/console/jobs/{job.id}").get_data(as_text=True)
    assert 'data-testid="status">closed<' in page and 'data-testid="close"' not in page
    # A caller who had the list open picks it: the job says it closed.
    details = str(dial("s-edit2", "2*1").get_data(True))
    assert "This job is closed." in details and "1 Apply" not in details
    assert "No jobs open near you now" in _ussd_list(dial, "s-edit3")
    assert client.post(f"/console/jobs/{job.id}/close").status_code == 400  # no CSRF token


def test_odd_ids_are_not_found(app: Flask, client: FlaskClient) -> None:
    make_user(app, "achieng")
    assert login(client, "achieng", PASSWORD).status_code == 302
    token = csrf_token(client.get("/console/jobs/new").get_data(as_text=True))
    for odd in ("0", "99999999999", "2147483648", "²", "-1", "1.5", "424242"):
        assert client.get(f"/console/jobs/{odd}/edit").status_code == 404, odd
        resp = client.post(f"/console/jobs/{odd}/close", data={"csrf_token": token})
        assert resp.status_code == 404, odd


# -- roles ----------------------------------------------------------------------------------


def test_an_editor_posts_and_manages_their_organisations_jobs_only(
    app: Flask, client: FlaskClient, dial: Any
) -> None:
    amina = editor(app, "amina", "Maji Safi Trust")
    editor(app, "baraka", "Afya Njema")
    assert login(client, "baraka", PASSWORD).status_code == 302
    _post(client, "/console/jobs/new", _fields(app, title_en="Clinic cleaner", alert=""))
    theirs = _job(app)
    client = app.test_client()
    assert login(client, "amina", PASSWORD).status_code == 302

    home = client.get("/console/").get_data(as_text=True)
    assert 'data-testid="nav-jobs"' in home and 'data-testid="nav-market"' not in home
    resp = _post(client, "/console/jobs/new", _fields(app, title_en="Water kiosk attendant"))
    mine = [j for j in [_job(app, i) for i in _all_ids(app)] if j.id != theirs.id][0]
    assert mine.organisation_id == _org(app, amina) and theirs.organisation_id != _org(app, amina)
    assert resp.location.endswith(f"/console/jobs/{mine.id}")
    with app.app_context():  # an editor's job sends no SMS to the county (it costs money)
        assert db_session().scalars(select(Campaign)).all() == []

    listing = client.get("/console/jobs").get_data(as_text=True)
    assert "Water kiosk attendant" in listing and "Clinic cleaner" not in listing
    assert client.get(f"/console/jobs/{theirs.id}").status_code == 404
    assert client.get(f"/console/jobs/{theirs.id}/edit").status_code == 404
    token = csrf_token(listing)
    resp = client.post(f"/console/jobs/{theirs.id}/close", data={"csrf_token": token})
    assert resp.status_code == 404 and _job(app, theirs.id).status is JobStatus.OPEN
    for path in ("/console/market", "/console/campaigns", "/console/households"):
        assert client.get(path).status_code == 403, path

    # Applicants to their own job: masked for an editor (their contact number
    # gets each application by SMS already); the contact, theirs, in full.
    with app.app_context():
        db_session().add(
            JobApplication(
                job_id=mine.id,
                msisdn="+254711222333",
                name="Grace",
                start="now",
                skills="",
                language="en",
            )
        )
        db_session().commit()
    page = client.get(f"/console/jobs/{mine.id}").get_data(as_text=True)
    assert "+254711222333" not in page and "+2547******33" in page
    assert "+254700000901" in page
    resp = client.post(f"/console/jobs/{mine.id}/close", data={"csrf_token": token})
    assert resp.status_code == 302 and _job(app, mine.id).status is JobStatus.CLOSED


def _all_ids(app: Flask) -> list[int]:
    with app.app_context():
        return list(db_session().scalars(select(Job.id).order_by(Job.id)))


def test_a_supervisor_reads_but_changes_nothing(app: Flask, client: FlaskClient) -> None:
    make_user(app, "achieng")
    assert login(client, "achieng", PASSWORD).status_code == 302
    _post(client, "/console/jobs/new", _fields(app, alert=""))
    job = _job(app)
    client = app.test_client()
    make_user(app, "otieno", role=ConsoleRole.SUPERVISOR, areas=["Kisumu"])
    assert login(client, "otieno", PASSWORD).status_code == 302
    page = client.get(f"/console/jobs/{job.id}").get_data(as_text=True)
    assert 'data-testid="edit"' not in page and 'data-testid="close"' not in page
    assert 'data-testid="new-job"' not in client.get("/console/jobs").get_data(as_text=True)
    token = csrf_token(page)
    assert client.get("/console/jobs/new").status_code == 403
    assert (
        client.post("/console/jobs/new", data={"csrf_token": token, **_fields(app)}).status_code
        == 403
    )
    assert client.get(f"/console/jobs/{job.id}/edit").status_code == 403
    resp = client.post(f"/console/jobs/{job.id}/edit", data={"csrf_token": token, **_fields(app)})
    assert resp.status_code == 403
    resp = client.post(f"/console/jobs/{job.id}/close", data={"csrf_token": token})
    assert resp.status_code == 403
    assert _job(app, job.id).status is JobStatus.OPEN and _job(app, job.id).slots == 12


@pytest.mark.parametrize("role", [ConsoleRole.ADMIN, ConsoleRole.OPERATOR])
def test_managers_edit_an_editors_job(app: Flask, client: FlaskClient, role: ConsoleRole) -> None:
    editor(app, "amina", "Maji Safi Trust")
    assert login(client, "amina", PASSWORD).status_code == 302
    _post(client, "/console/jobs/new", _fields(app, alert=""))
    job = _job(app)
    client = app.test_client()
    make_user(app, "boss", role=role)
    assert login(client, "boss", PASSWORD).status_code == 302
    fields = _fields(app, slots="3")
    del fields["alert"]
    assert _post(client, f"/console/jobs/{job.id}/edit", fields).status_code == 302
    edited = _job(app, job.id)
    assert edited.slots == 3 and edited.organisation_id == job.organisation_id

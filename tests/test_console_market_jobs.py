"""``/console/market`` and ``/console/jobs``: prices and offers by produce and area,
jobs and their applicants; supervisors limited to their areas, numbers masked,
views of applicants logged, every table as CSV."""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.console.export import mask_msisdn
from app.db import db_session
from domain import job_applications, jobs, market
from models import Area, ConsoleRole, ContactRequest
from models.base import utcnow
from tests.factories import produce_offer
from tests.test_console_auth import PASSWORD, login, make_user


def _area(name: str) -> int:
    found = db_session().scalar(select(Area.id).where(Area.name == name))
    assert found is not None
    return found


def _offer(
    app: Flask,
    msisdn: str,
    village: str | None,
    produce: str = "maize",
    quantity: str = "50",
    unit: str = "kg",
    price: str = "30",
    *,
    hours_ago: float = 1,
) -> int:
    with app.app_context():
        db = db_session()
        offer = produce_offer(
            db,
            msisdn,
            village,
            produce=produce,
            quantity=quantity,
            unit=unit,
            price=price,
            at=utcnow() - timedelta(hours=hours_ago),
        )
        db.commit()
        return offer.id


def _job(app: Flask, village: str = "Ahero", **overrides: object) -> int:
    with app.app_context():
        db = db_session()
        fields: dict[str, object] = {
            "titles": {"en": "Rice transplanting"},
            "employer": "Ahero Rice Growers",
            "contact": "+254700000901",
            "area_id": _area(village),
            "wage": "450",
            "wage_period": "day",
            "currency": "KES",
            "slots": 12,
            "closes_on": utcnow().date() + timedelta(days=10),
            "now": utcnow(),
        }
        fields.update(overrides)
        job = jobs.add_job(db, **fields)  # type: ignore[arg-type]
        db.commit()
        return job.id


def _apply(app: Flask, job_id: int, msisdn: str, name: str, skills: str = "Rice") -> str:
    with app.app_context():
        db = db_session()
        job = db.get(jobs.Job, job_id)
        assert job is not None
        applied = job_applications.apply(
            db,
            job,
            msisdn=msisdn,
            name=name,
            start="week",
            skills=skills,
            language="en",
            now=utcnow(),
        )
        return job_applications.reference(applied.application)


def _sign_in(app: Flask, client: FlaskClient, role: ConsoleRole = ConsoleRole.ADMIN) -> None:
    areas = ["Kisumu"] if role is ConsoleRole.SUPERVISOR else []
    make_user(app, "otieno", name="Otieno Ouma", role=role, areas=areas)
    assert login(client, "otieno", PASSWORD).status_code == 302


def _rows(page: str, attr: str) -> list[str]:
    return re.findall(rf'data-{attr}="([^"]+)"', page)


def _csv(resp: object) -> list[list[str]]:
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True))))  # type: ignore[attr-defined]


# -- market --------------------------------------------------------------------------


def test_prices_and_offers_for_a_county(app: Flask, client: FlaskClient) -> None:
    ahero = _offer(app, "+254711000001", "Ahero", price="30", hours_ago=2)
    kombewa = _offer(app, "+254711000002", "Kombewa", quantity="2", unit="bag", price="3600")
    old = _offer(app, "+254711000003", "Ahero", price="20", hours_ago=24 * 20)  # 30 days only
    ganze = _offer(app, "+254711000004", "Ganze", price="90")  # Kilifi
    _offer(app, "+254711000005", "Ahero", produce="beans", price="120", hours_ago=3)
    with app.app_context():
        market.set_shares_contact(db_session(), "+254711000002", True)
        db_session().add(ContactRequest(offer_id=kombewa, buyer_msisdn="+254722000001"))
        db_session().commit()
        kisumu = _area("Kisumu")
    _sign_in(app, client)
    page = client.get(f"/console/market?area={kisumu}").get_data(as_text=True)
    # maize: 30 and 40 (3600 a 90 kg bag) in 7 days → 35; with the 20 of 20 days ago → 30.
    maize = re.search(r'<tr data-produce="maize">(.*?)</tr>', page, re.S)
    assert maize is not None
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", maize.group(1))
    assert cells == ["maize", "KES 35/kg", "2", "KES 30/kg", "3"]
    assert _rows(page, "produce") == ["maize", "beans"]
    # Open offers, newest first; the one of 20 days ago expired after 14.
    assert _rows(page, "offer") == [str(kombewa), str(ahero), _rows(page, "offer")[2]]
    assert str(ganze) not in _rows(page, "offer") and str(old) not in _rows(page, "offer")
    row = re.search(rf'<tr data-offer="{kombewa}">(.*?)</tr>', page, re.S)
    assert row is not None
    cells = [c.strip() for c in re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))]
    assert cells == [
        str(kombewa), "maize", "2 bag", "KES 3,600/bag", "Kombewa", "1 h",
        "+2547******02", "yes", "1",
    ]  # fmt: skip
    assert "+254711000002" not in page
    assert ">not asked<" in page
    # Every area: Ganze's offer too.
    assert str(ganze) in _rows(client.get("/console/market").get_data(as_text=True), "offer")


def test_filter_by_produce_and_odd_values(app: Flask, client: FlaskClient) -> None:
    maize = _offer(app, "+254711000011", "Ahero")
    beans = _offer(app, "+254711000012", "Ahero", produce="beans", price="120")
    _sign_in(app, client)
    page = client.get("/console/market?produce=beans").get_data(as_text=True)
    assert _rows(page, "offer") == [str(beans)]
    assert _rows(page, "produce") == ["beans"]
    assert '<option value="beans" selected>' in page
    # Unknown produce, odd area and page ids: the whole market, not an error.
    for query in ("produce=gold", "area=%C2%B2", "area=99999999999999999999", "page=%C2%B2"):
        resp = client.get(f"/console/market?{query}")
        assert resp.status_code == 200, query
        assert _rows(resp.get_data(as_text=True), "offer") == [str(beans), str(maize)]


def test_offers_are_paged_by_fifty(app: Flask, client: FlaskClient) -> None:
    ids = [_offer(app, f"+2547110001{i:02d}", "Ahero", hours_ago=i + 1) for i in range(51)]
    _sign_in(app, client)
    first = client.get("/console/market").get_data(as_text=True)
    assert _rows(first, "offer") == [str(i) for i in ids[:50]]
    assert "Page 1 of 2 (51 offers)" in first
    second = client.get("/console/market?page=2").get_data(as_text=True)
    assert _rows(second, "offer") == [str(ids[50])]
    # Past the last page: the last page.
    assert _rows(client.get("/console/market?page=9").get_data(as_text=True), "offer") == [
        str(ids[50])
    ]


def test_a_supervisor_sees_the_market_of_their_areas(app: Flask, client: FlaskClient) -> None:
    ahero = _offer(app, "+254711000021", "Ahero")
    _offer(app, "+254711000022", "Ganze", price="90")
    _offer(app, "+254711000023", None)  # village unknown: nobody's area
    with app.app_context():
        kilifi = _area("Kilifi")
    _sign_in(app, client, ConsoleRole.SUPERVISOR)
    page = client.get("/console/market").get_data(as_text=True)
    assert _rows(page, "offer") == [str(ahero)]
    assert re.findall(r'<option value="(\d+)"', page) == [str(i) for i in [_area_in(app, "Kisumu")]]
    # Asking for a county outside theirs changes nothing.
    page = client.get(f"/console/market?area={kilifi}").get_data(as_text=True)
    assert _rows(page, "offer") == [str(ahero)]
    maize = re.search(r'<tr data-produce="maize">(.*?)</tr>', page, re.S)
    assert maize is not None and "KES 30/kg" in maize.group(1)


def _area_in(app: Flask, name: str) -> int:
    with app.app_context():
        return _area(name)


def test_market_csv(app: Flask, client: FlaskClient) -> None:
    offer = _offer(app, "+254711000031", "Ahero", quantity="1500", price="30")
    _sign_in(app, client)
    resp = client.get("/console/market?format=csv&produce=maize")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    disposition = resp.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="ngazi-offers-\d{8}\.csv"', disposition)
    rows = _csv(resp)
    assert rows[0] == [
        "id", "produce", "quantity", "price", "place", "created_utc", "seller",
        "shares_number", "contact_requests",
    ]  # fmt: skip
    assert len(rows) == 2 and rows[1][:5] == [str(offer), "maize", "1,500 kg", "KES 30/kg", "Ahero"]
    # The masked number, kept from being read as a formula by a spreadsheet.
    assert rows[1][6:] == ["'+2547******31", "not asked", "0"]
    assert "+254711000031" not in resp.get_data(as_text=True)
    prices = client.get("/console/market?format=csv&table=prices")
    assert "ngazi-prices-" in prices.headers["Content-Disposition"]
    assert _csv(prices) == [
        ["produce", "currency", "unit", "median_7_days", "offers_7_days"]
        + ["median_30_days", "offers_30_days"],
        ["maize", "KES", "kg", "30", "1", "30", "1"],
    ]


# -- jobs ----------------------------------------------------------------------------


def test_jobs_open_first_with_applications(app: Flask, client: FlaskClient) -> None:
    later = _job(app, closes_on=utcnow().date() + timedelta(days=20))
    sooner = _job(app, "Ganze", titles={"en": "Cashew harvest"}, wage="300")
    closed = _job(app)
    past = _job(app)
    with app.app_context():
        db = db_session()
        jobs.close_job(db, closed)
        job = db.get(jobs.Job, past)
        assert job is not None
        job.closes_on = date(2020, 1, 1)
        db.commit()
    _apply(app, sooner, "+254733000001", "Grace Akinyi")
    _apply(app, sooner, "+254733000002", "Peter Otieno")
    _sign_in(app, client)
    page = client.get("/console/jobs").get_data(as_text=True)
    assert _rows(page, "job") == [str(sooner), str(later), str(closed), str(past)]
    row = re.search(rf'<tr data-job="{sooner}">(.*?)</tr>', page, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(?:<[^>]+>)?([^<]*)", row.group(1))
    closes = (utcnow().date() + timedelta(days=10)).isoformat()
    assert cells == [
        str(sooner), "Cashew harvest", "Ahero Rice Growers", "Ganze", "KES 300/day", "12",
        closes, "open", "2",
    ]  # fmt: skip
    assert re.search(rf'data-job="{closed}">.*?>closed<', page, re.S)
    assert re.search(rf'data-job="{past}">.*?>past<', page, re.S)
    rows = _csv(client.get("/console/jobs?format=csv"))
    assert rows[0][-3:] == ["closes_on", "status", "applications"]
    assert [r[0] for r in rows[1:]] == [str(sooner), str(later), str(closed), str(past)]
    assert rows[1][-1] == "2"


def test_applicants_in_full_for_an_admin_and_logged(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    job = _job(app)
    ref = _apply(app, job, "+254733000011", "Grace Akinyi", skills="=HYPERLINK(1)")
    _sign_in(app, client)
    with caplog.at_level(logging.INFO, logger="ngazi.audit"):
        page = client.get(f"/console/jobs/{job}").get_data(as_text=True)
        resp = client.get(f"/console/jobs/{job}?format=csv")
    assert _rows(page, "reference") == [ref]
    assert ">+254733000011<" in page and ">Within a week<" in page
    assert ">+254700000901<" in page  # the job's contact
    audit = [r.getMessage() for r in caplog.records if r.name == "ngazi.audit"]
    assert audit == [
        f"otieno viewed 1 applicants of job {job} (page, numbers full)",
        f"otieno viewed 1 applicants of job {job} (csv, numbers masked)",
    ]
    assert resp.mimetype == "text/csv"
    assert f'filename="ngazi-job-{job}-applicants-' in resp.headers["Content-Disposition"]
    rows = _csv(resp)
    assert rows[0] == ["reference", "name", "msisdn", "start", "skills", "applied_utc"]
    assert rows[1][:5] == [ref, "Grace Akinyi", "'+2547******11", "Within a week", "'=HYPERLINK(1)"]
    assert "+254733000011" not in resp.get_data(as_text=True)


def test_a_supervisor_sees_masked_applicants_in_their_areas_only(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    mine = _job(app)
    theirs = _job(app, "Ganze")
    _apply(app, mine, "+254733000021", "Grace Akinyi")
    _sign_in(app, client, ConsoleRole.SUPERVISOR)
    assert _rows(client.get("/console/jobs").get_data(as_text=True), "job") == [str(mine)]
    with caplog.at_level(logging.INFO, logger="ngazi.audit"):
        page = client.get(f"/console/jobs/{mine}").get_data(as_text=True)
    assert ">+2547******21<" in page and "+254733000021" not in page
    assert ">+2547******01<" in page  # the contact too
    assert [r.getMessage() for r in caplog.records if r.name == "ngazi.audit"] == [
        f"otieno viewed 1 applicants of job {mine} (page, numbers masked)"
    ]
    assert client.get(f"/console/jobs/{theirs}").status_code == 404
    assert client.get(f"/console/jobs/{theirs}?format=csv").status_code == 404


@pytest.mark.parametrize("odd", ["0", "%C2%B2", "99999999999999999999", "2147483648", "abc", "-1"])
def test_unknown_and_odd_job_ids_are_404(app: Flask, client: FlaskClient, odd: str) -> None:
    _sign_in(app, client)
    assert client.get(f"/console/jobs/{odd}").status_code == 404
    assert client.get("/console/jobs/424242").status_code == 404


def test_pages_need_a_signed_in_user(client: FlaskClient) -> None:
    for path in ("/console/market", "/console/jobs", "/console/jobs/1?format=csv"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/console/login" in resp.location


def test_mask_msisdn() -> None:
    assert mask_msisdn("+254712345601") == "+2547******01"
    assert mask_msisdn("+2541") == "*****"


def test_home_and_nav_list_market_and_jobs(app: Flask, client: FlaskClient) -> None:
    _sign_in(app, client)
    page = client.get("/console/").get_data(as_text=True)
    assert 'data-testid="nav-market"' in page and 'data-testid="nav-jobs"' in page
    for page_name in ("Analytics", "Households", "Content", "Campaigns", "Market", "Jobs"):
        assert f"{page_name}</a>:" in page  # every page is listed on the home page
    assert "Audit</a>:" in page  # the test's user is an admin

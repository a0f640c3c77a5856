"""Posting a job in headless Chromium, in English and Kiswahili, without
JavaScript's help: the county's villages come from the server."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from app.db import db_session
from domain import jobs
from models import Job, JobStatus
from models.base import utcnow
from tests.test_console_auth import make_user
from tests.test_console_browser import console_browser
from tests.test_simulator import ARTIFACTS


@pytest.mark.browser
def test_post_a_job_in_two_languages_and_see_it_listed(app: Flask) -> None:
    from playwright.sync_api import expect

    make_user(app, name="Achieng Odhiambo")
    closes = jobs.local_today("Africa/Nairobi", utcnow()) + timedelta(days=7)
    with console_browser(app, 1300, 900) as seen:
        page, base_url = seen.page, seen.base_url
        seen.sign_in()
        page.get_by_test_id("nav-jobs").click()
        page.get_by_test_id("new-job").click()
        page.wait_for_url(f"{base_url}/console/jobs/new")
        page.get_by_label("English title (required)").fill("Rice transplanting")
        page.get_by_label("Kiswahili title").fill("Kupandikiza mpunga")
        page.get_by_label("Employer", exact=True).fill("Ahero Rice Growers")
        page.get_by_label("Contact phone").fill("0700000901")
        page.locator("#county").select_option(label="Nyanza / Kisumu")
        page.get_by_test_id("update").click()  # the villages of Kisumu, from the server
        page.locator("#village").select_option(label="Ahero")
        page.get_by_label("Wage", exact=True).fill("450")
        page.get_by_label("Closes on").fill(closes.isoformat())
        page.get_by_label("SMS the subscribers").uncheck()
        page.get_by_test_id("update").click()
        expect(page.get_by_test_id("fit-sw")).to_contain_text("Kupandikiza mpunga, Ahero")
        expect(page.get_by_test_id("fit-fr")).to_contain_text("No French title")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-job-new.png"), full_page=True)
        page.get_by_test_id("save").click()
        expect(page.get_by_role("status")).to_contain_text("posted: callers see it on USSD now")
        expect(page.get_by_test_id("status")).to_have_text("open")
        page.get_by_role("link", name="← All jobs").click()
        expect(page.get_by_test_id("jobs")).to_contain_text("Rice transplanting")
        expect(page.get_by_test_id("jobs")).to_contain_text("Ahero")
    with app.app_context():  # what the form saved, not only what the page shows
        job = db_session().scalars(select(Job)).one()
        assert job.titles == {"en": "Rice transplanting", "sw": "Kupandikiza mpunga"}
        assert (job.employer, job.contact_msisdn) == ("Ahero Rice Growers", "+254700000901")
        assert (job.wage, job.closes_on, job.status) == (Decimal("450.00"), closes, JobStatus.OPEN)

"""The console in headless Chromium: sign-in and sign-out, a campaign created,
previewed and sent, a failed job requeued; every request going to the local
server only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from tests.live_server import serve
from tests.test_console_auth import PASSWORD, make_user
from tests.test_simulator import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS


@dataclass
class Browser:
    """A Chromium page on the app's live server, and every URL it asked for."""

    page: Any
    base_url: str
    requested: list[str] = field(default_factory=list)

    def sign_in(self) -> None:
        """Sign in as the test's user ("achieng") through the form."""
        self.page.goto(f"{self.base_url}/console/login")
        self.page.get_by_label("Username").fill("achieng")
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_test_id("login").click()
        self.page.wait_for_url(f"{self.base_url}/console/")

    def asked_for(self, path: str) -> bool:
        return any(urlsplit(u).path == path for u in self.requested)


@contextmanager
def console_browser(app: Flask, width: int = 1100, height: int = 800) -> Iterator[Browser]:
    """Serve ``app`` and open a page in Debian's Chromium; requests to any other
    host are blocked. On leaving, check that none was made, that the pages
    raised no error, and that every request went to the local server."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    errors: list[str] = []
    with serve(app) as base_url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": width, "height": height})
        local = urlsplit(base_url).netloc

        def guard(route: Any) -> None:
            if urlsplit(route.request.url).netloc == local:
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.set_default_timeout(10_000)
        seen = Browser(page, base_url)
        page.on("request", lambda req: seen.requested.append(req.url))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        try:
            yield seen
        finally:
            context.close()
            browser.close()
    assert blocked == [], f"the console tried to reach other hosts: {blocked}"
    assert errors == [], f"errors in the page: {errors}"
    assert seen.requested, "no requests seen"
    assert {urlsplit(u).netloc for u in seen.requested if not u.startswith("data:")} == {local}


@pytest.mark.browser
def test_sign_in_land_and_sign_out_in_a_browser(app: Flask) -> None:
    from playwright.sync_api import expect

    make_user(app, name="Achieng Odhiambo")
    with console_browser(app, 1000, 700) as seen:
        page, base_url = seen.page, seen.base_url
        # The console sends a visitor to sign in, remembering where they were going.
        page.goto(f"{base_url}/console/")
        assert urlsplit(page.url).path == "/console/login"
        expect(page).to_have_title("Sign in · Ngazi")

        # A wrong password first: refused, and the form keeps the username only.
        page.get_by_label("Username").fill("achieng")
        page.get_by_label("Password").fill("not-my-password")
        page.get_by_test_id("login").click()
        expect(page.get_by_test_id("login-error")).to_contain_text("Wrong username or password.")
        expect(page.get_by_label("Username")).to_have_value("achieng")
        expect(page.get_by_label("Password")).to_have_value("")

        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_test_id("login").click()
        page.wait_for_url(f"{base_url}/console/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Achieng Odhiambo")
        expect(page.get_by_test_id("who")).to_have_text("Achieng Odhiambo · admin")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-login.png"), full_page=True)

        page.get_by_test_id("logout").click()
        page.wait_for_url(f"{base_url}/console/login")
        expect(page.get_by_role("status")).to_have_text("You are signed out.")
        page.goto(f"{base_url}/console/")
        assert urlsplit(page.url).path == "/console/login"
    assert seen.asked_for("/console/static/console.css")
    assert (ARTIFACTS / "console-login.png").stat().st_size > 5_000


@pytest.mark.browser
def test_create_preview_and_send_a_campaign_in_a_browser(app: Flask) -> None:
    from playwright.sync_api import expect

    from tests.jobs import run_jobs
    from tests.test_console_campaigns import _people

    make_user(app, name="Achieng Odhiambo")
    _people(app)  # three subscribers in Ahero, Kisumu: two English, one Kiswahili
    with console_browser(app) as seen:
        page, base_url = seen.page, seen.base_url
        seen.sign_in()

        page.get_by_test_id("nav-campaigns").click()
        page.wait_for_url(f"{base_url}/console/campaigns")
        page.get_by_test_id("new-campaign").click()
        page.get_by_label("Name", exact=True).fill("Water day")
        page.get_by_label("English text (required)").fill(
            "Ngazi: boil drinking water in {village}. Chlorine is free at the clinic."
        )
        page.get_by_label("Kiswahili text").fill(
            "Ngazi: chemsha maji ya kunywa {village}. Klorini ni bure kliniki."
        )
        page.locator("#areas").select_option(label="Nyanza / Kisumu")
        page.get_by_label("Quiet hours (local, like 20:00-07:00, or none)").fill("none")
        page.get_by_test_id("create").click()

        page.wait_for_url(f"{base_url}/console/campaigns/*")
        expect(page.get_by_test_id("status")).to_have_text("draft")
        expect(page.get_by_test_id("preview-recipients")).to_have_text("3")
        expect(page.get_by_test_id("preview-cost")).to_have_text("KES 2.40")
        expect(page.locator('tr[data-language="en"] td').nth(1)).to_have_text("2")
        expect(page.locator('tr[data-language="sw"] td').nth(1)).to_have_text("1")
        expect(page.get_by_text("Ngazi: chemsha maji ya kunywa Ahero.")).to_be_visible()

        page.get_by_test_id("send").click()
        expect(page.get_by_role("status")).to_contain_text("scheduled now")
        run_jobs(app)  # with Redis the jobs wait for a worker: the page's poll sees them end
        expect(page.get_by_test_id("status")).to_have_text("done", timeout=15_000)
        expect(page.locator('[data-stage="sent"]')).to_have_text("3")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-campaign.png"), full_page=True)
    assert seen.asked_for("/console/static/campaign.js")
    assert (ARTIFACTS / "console-campaign.png").stat().st_size > 5_000


@pytest.mark.browser
def test_requeue_a_failed_job_in_a_browser(app: Flask) -> None:
    from playwright.sync_api import expect
    from rq import SimpleWorker
    from rq.job import Job, JobStatus

    from tests.test_console_queues import fail_a_job, redis_of

    make_user(app, name="Achieng Odhiambo")
    job_id = fail_a_job(app, "browser")
    with console_browser(app) as seen:
        page, base_url = seen.page, seen.base_url
        seen.sign_in()

        page.get_by_test_id("nav-queues").click()
        page.wait_for_url(f"{base_url}/console/queues")
        expect(page.get_by_role("heading", level=1)).to_have_text("Queues")
        row = page.get_by_test_id(f"job-{job_id}")
        expect(row).to_contain_text("RuntimeError: gateway unreachable for browser")
        expect(page.get_by_test_id("queue-default").locator("td").nth(4)).to_have_text("1")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-queues.png"), full_page=True)

        page.get_by_test_id(f"requeue-{job_id}").click()
        page.wait_for_url(f"{base_url}/console/queues")
        expect(page.get_by_role("status")).to_contain_text(f"Job {job_id} requeued")
        expect(page.get_by_test_id(f"job-{job_id}")).to_have_count(0)
        expect(page.get_by_test_id("queue-default").locator("td").nth(4)).to_have_text("0")

    connection = redis_of(app)
    if app.config["REDIS_URL"]:  # the job waits for a worker; in the embedded default it ran
        SimpleWorker(["default"], connection=connection).work(burst=True)
    assert Job.fetch(job_id, connection=connection).get_status() == JobStatus.FINISHED
    assert seen.asked_for("/console/static/queues.css")
    assert (ARTIFACTS / "console-queues.png").stat().st_size > 5_000


@pytest.mark.browser
def test_market_and_jobs_in_a_browser(app: Flask) -> None:
    from playwright.sync_api import expect

    from tests.test_console_market_jobs import _apply, _job, _offer

    make_user(app, name="Achieng Odhiambo")
    _offer(app, "+254711000001", "Ahero", price="30")
    _offer(app, "+254711000002", "Kombewa", quantity="2", unit="bag", price="3600")
    job = _job(app)
    _apply(app, job, "+254733000001", "Grace Akinyi")
    with console_browser(app) as seen:
        page, base_url = seen.page, seen.base_url
        seen.sign_in()

        page.get_by_test_id("nav-market").click()
        page.wait_for_url(f"{base_url}/console/market")
        page.locator("#area").select_option(label="Nyanza / Kisumu")
        page.get_by_test_id("filter").click()
        page.wait_for_url(f"{base_url}/console/market?*")
        maize = page.locator('tr[data-produce="maize"] td')
        expect(maize.nth(1)).to_have_text("KES 35/kg")
        expect(page.get_by_test_id("offers").locator("tbody tr")).to_have_count(2)
        expect(page.get_by_text("+2547******02")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-market.png"), full_page=True)

        page.get_by_test_id("nav-jobs").click()
        page.wait_for_url(f"{base_url}/console/jobs")
        page.get_by_role("link", name="Rice transplanting").click()
        page.wait_for_url(f"{base_url}/console/jobs/{job}")
        expect(page.get_by_test_id("applicants")).to_contain_text("Grace Akinyi")
        expect(page.get_by_test_id("applicants")).to_contain_text("+254733000001")
    assert (ARTIFACTS / "console-market.png").stat().st_size > 5_000

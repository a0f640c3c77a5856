"""The console's sign-in in headless Chromium: the form, the landing page, sign-out,
and every request going to the local server only."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from tests.live_server import serve
from tests.test_console_auth import PASSWORD, make_user
from tests.test_simulator import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS


@pytest.mark.browser
def test_sign_in_land_and_sign_out_in_a_browser(app: Flask) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests")
    from playwright.sync_api import expect, sync_playwright

    make_user(app, name="Achieng Odhiambo")
    requested: list[str] = []
    blocked: list[str] = []
    errors: list[str] = []

    with serve(app) as base_url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1000, "height": 700})

        def guard(route: Any) -> None:
            if urlsplit(route.request.url).netloc == urlsplit(base_url).netloc:
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("request", lambda req: requested.append(req.url))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        try:
            # The console sends a visitor to sign in, remembering where they were going.
            page.goto(f"{base_url}/console/")
            assert urlsplit(page.url).path == "/console/login"
            expect(page).to_have_title("Sign in · Ngazi")

            # A wrong password first: refused, and the form keeps the username only.
            page.get_by_label("Username").fill("achieng")
            page.get_by_label("Password").fill("not-my-password")
            page.get_by_test_id("login").click()
            expect(page.get_by_test_id("login-error")).to_contain_text(
                "Wrong username or password."
            )
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
        finally:
            context.close()
            browser.close()

    assert blocked == [], f"the console tried to reach other hosts: {blocked}"
    assert errors == [], f"errors in the page: {errors}"
    assert requested, "no requests seen"
    local = urlsplit(base_url).netloc
    assert {urlsplit(u).netloc for u in requested if not u.startswith("data:")} == {local}
    assert any(urlsplit(u).path == "/console/static/console.css" for u in requested)
    assert (ARTIFACTS / "console-login.png").stat().st_size > 5_000

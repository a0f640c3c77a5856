"""The analytics drill-down in headless Chromium: all areas → province →
county → village, charts drawn, a CSV downloaded, nothing fetched elsewhere."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from tests.test_console_analytics import surveyed  # noqa: F401 (fixture)
from tests.test_console_auth import make_user
from tests.test_console_browser import console_browser
from tests.test_simulator import ARTIFACTS


@pytest.mark.browser
def test_drill_down_the_analytics_in_a_browser(
    app: Flask,
    surveyed: dict[str, Any],  # noqa: F811 (the fixture)
) -> None:
    from playwright.sync_api import expect

    make_user(app, name="Achieng Odhiambo")
    with console_browser(app, 1100, 900) as seen:
        page = seen.page
        seen.sign_in()
        page.get_by_test_id("nav-analytics").click()
        expect(page.get_by_test_id("area-name")).to_have_text("All areas")
        expect(page.get_by_test_id("households")).to_have_text("29")
        # H by province as bars: one per province, the Nyanza bar the longest.
        bars = page.get_by_test_id("chart-areas").locator("rect.chart-bar")
        expect(bars).to_have_count(2)  # Nyanza and Western have surveys; Coast none
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-analytics-all.png"), full_page=True)

        for name, households in (("Nyanza", "23"), ("Kisumu", "23"), ("Ahero", "12")):
            page.get_by_test_id("table-areas").get_by_role("link", name=name).click()
            expect(page.get_by_test_id("area-name")).to_contain_text(name)
            expect(page.get_by_test_id("households")).to_have_text(households)
        expect(page.get_by_test_id("trail")).to_contain_text("All areas › Nyanza › Kisumu › Ahero")
        expect(page.get_by_test_id("table-areas")).to_have_count(0)  # nothing below a village
        water = page.get_by_test_id("chart-water").locator("rect.chart-part")
        assert water.count() >= 5  # at least one bar part, and the four legend keys
        page.screenshot(path=str(ARTIFACTS / "console-analytics-village.png"), full_page=True)

        # Back up the trail, and download the county's villages as CSV.
        page.get_by_test_id("trail").get_by_role("link", name="Kisumu").click()
        with page.expect_download() as download:
            page.get_by_test_id("csv-areas").click()
        text = open(download.value.path(), encoding="utf-8").read()
        rows = {r[0]: r for r in csv.reader(io.StringIO(text))}
        assert rows["Ahero"][1] == "12" and rows["Katito"][1] == "<5"
        assert urlsplit(page.url).path == f"/console/analytics/{surveyed['Kisumu']}"
    assert seen.asked_for("/console/static/console.css")
    assert (ARTIFACTS / "console-analytics-village.png").stat().st_size > 20_000

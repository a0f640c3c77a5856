"""The Content pages in headless Chromium: an article edited in English and
Kiswahili (the counts following the typing), published, and read on USSD."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.test_console_auth import make_user
from tests.test_console_browser import console_browser
from tests.test_content_admin import _pages_on_ussd, make_article, scratch_category
from tests.test_simulator import ARTIFACTS

BODY_EN = (
    "Every clinic in Kisumu county gives a free bed net to each pregnant woman and each "
    "child under five. Bring the child's health card. Sleep under the net every night."
)
BODY_SW = (
    "Kila kliniki katika kaunti ya Kisumu inatoa chandarua bure kwa kila mama mjamzito na "
    "kila mtoto chini ya miaka mitano. Beba kadi ya afya ya mtoto."
)


def _dial(app: Flask) -> Any:
    client = app.test_client()

    def dial(session_id: str, text: str, msisdn: str) -> Any:
        form = {"sessionId": session_id, "serviceCode": "*384*1234#", "phoneNumber": msisdn}
        return client.post("/ussd", data=form | {"text": text})

    return dial


@pytest.mark.browser
def test_edit_translate_and_publish_an_article_in_a_browser(app: Flask) -> None:
    from playwright.sync_api import expect

    make_user(app, name="Achieng Odhiambo")
    with scratch_category(app) as category:
        article_id = make_article(app, category, en=("Free bed nets", "Ask at the clinic."))
        with console_browser(app, 1300, 900) as seen:
            page, base_url = seen.page, seen.base_url
            seen.sign_in()

            page.get_by_test_id("nav-content").click()
            page.wait_for_url(f"{base_url}/console/content")
            row = page.locator(f'tr[data-article="{article_id}"]')
            expect(row).to_contain_text("draft")
            row.get_by_role("link", name="Free bed nets").click()
            page.wait_for_url(f"{base_url}/console/content/{article_id}")
            expect(page.get_by_test_id("fit-sw")).to_contain_text("No Kiswahili text")

            page.get_by_label("English text (required)").fill(BODY_EN)
            page.get_by_label("Kiswahili title").fill("Vyandarua bure")
            page.get_by_label("Kiswahili text").fill(BODY_SW)
            # content.js asks the server as one types: Kiswahili now counts its own text.
            expect(page.get_by_test_id("fit-sw")).not_to_contain_text("No Kiswahili text")
            expect(page.get_by_test_id("fit-fr")).to_contain_text("No French text")
            page.get_by_test_id("save").click()
            page.wait_for_url(f"{base_url}/console/content/{article_id}")
            expect(page.get_by_role("status")).to_have_text("Saved as revision 2 (a draft).")
            expect(page.get_by_test_id("revision")).to_have_text("2")
            screens = {
                code: int(
                    page.get_by_test_id(f"fit-{code}")
                    .locator('[data-count="screens"]')
                    .inner_text()
                )
                for code in ("en", "sw")
            }
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "console-content-edit.png"), full_page=True)

            page.get_by_test_id("publish").click()
            page.wait_for_url(f"{base_url}/console/content/{article_id}")
            expect(page.get_by_role("status")).to_contain_text("Published (revision 3)")
            expect(page.get_by_test_id("status")).to_have_text("published")

            page.get_by_test_id("history").click()
            page.wait_for_url(f"{base_url}/console/content/{article_id}/revisions")
            expect(page.locator("tr[data-revision]")).to_have_count(3)
            expect(page.locator('tr[data-revision="3"]')).to_contain_text("published")
            expect(page.locator('tr[data-revision="3"]')).to_contain_text("Achieng Odhiambo")
            page.screenshot(path=str(ARTIFACTS / "console-content-history.png"), full_page=True)
        assert seen.asked_for("/console/static/content.js")
        assert seen.asked_for("/console/content/counts")

        # What a caller hears, in both languages, on as many screens as the editor said.
        dial = _dial(app)
        for language, title, body in (
            ("en", "Free bed nets", BODY_EN),
            ("sw", "Vyandarua bure", BODY_SW),
        ):
            pages, first = _pages_on_ussd(app, dial, language, title)
            assert first.startswith(f"CON {title}\n{body.split(' ')[0]} ")
            assert pages == screens[language] and pages >= 2
    assert (ARTIFACTS / "console-content-edit.png").stat().st_size > 5_000
    assert (ARTIFACTS / "console-content-history.png").stat().st_size > 5_000

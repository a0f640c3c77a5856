"""``/simulator``: the page, its inbox endpoint, and the phone driven in a real browser."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SERVICE_CODE
from tests.live_server import serve

MSISDN = "+254700000101"
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SENT = "We are sending this to your phone by SMS."
EXPECTED_400 = "Failed to load resource: the server responded with a status of 400"


# -- the page and its assets, through the test client ----------------------------------


def _assets(html: str) -> list[str]:
    """Paths of the page's stylesheets and scripts."""
    return re.findall(r'<(?:link|script)\b[^>]*\b(?:href|src)="([^"]+)"', html)


def test_page_renders_the_phone_with_the_service_code(client: FlaskClient) -> None:
    resp = client.get("/simulator")

    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert SERVICE_CODE in html
    assert 'value="+254700000101"' in html
    for testid in ("screen", "entry", "call", "clear", "hangup", "msisdn", "inbox-list"):
        assert f'data-testid="{testid}"' in html
    for key in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "star", "0", "hash"):
        assert f'data-testid="key-{key}"' in html
    assert 'aria-live="polite"' in html


def test_page_and_assets_reference_no_other_host(client: FlaskClient) -> None:
    html = client.get("/simulator").get_data(as_text=True)
    assets = [a for a in _assets(html) if not a.startswith("data:")]
    assert sorted(Path(a).name for a in assets) == ["simulator.css", "simulator.js"]

    texts = {"/simulator": html}
    for path in assets:
        assert urlsplit(path).netloc == "", f"{path} is not served by this app"
        resp = client.get(path)
        assert resp.status_code == 200, path
        texts[path] = resp.get_data(as_text=True)

    for where, text in texts.items():
        hosts = {urlsplit(u).hostname for u in re.findall(r"https?://[^\s\"'<>)]+", text)}
        assert hosts <= LOCAL_HOSTS, f"{where} refers to {hosts - LOCAL_HOSTS}"
        assert not re.search(r"""(?:src|href|url)\s*[=(]\s*["']?//""", text), where
        assert "@import" not in text, where


def test_inbox_rejects_a_bad_number(client: FlaskClient) -> None:
    for bad in ("not-a-number", "", "12"):
        resp = client.get("/simulator/inbox", query_string={"msisdn": bad})
        assert resp.status_code == 400, bad
        assert resp.is_json
        assert "error" in resp.get_json()


def test_inbox_is_empty_for_a_new_number(client: FlaskClient) -> None:
    resp = client.get("/simulator/inbox", query_string={"msisdn": "0700000101"})

    assert resp.status_code == 200
    assert resp.get_json() == {"msisdn": MSISDN, "messages": []}


def test_inbox_lists_an_article_sent_by_sms(client: FlaskClient, dial: Any) -> None:
    hops = _walk("1", "1", "1", "1")  # English, Policies, first category, first article
    screens = [dial("ATUid_inbox", text).get_data(as_text=True) for text in hops]
    article_title = screens[-1].removeprefix("CON ").splitlines()[0]
    taken = ["1", "1", "1", "1"]
    while "1 Send me this by SMS" not in screens[-1]:  # page to where the option shows
        taken.append("98")
        screens.append(dial("ATUid_inbox", "*".join(taken)).get_data(as_text=True))
    sent = dial("ATUid_inbox", "*".join([*taken, "1"])).get_data(as_text=True)
    assert sent.startswith("CON ") and SENT in sent

    resp = client.get("/simulator/inbox", query_string={"msisdn": MSISDN})

    assert resp.status_code == 200
    data = resp.get_json()
    assert data["msisdn"] == MSISDN
    assert len(data["messages"]) == 1
    msg = data["messages"][0]
    assert msg["body"].startswith(f"{article_title}\n")
    assert set(msg) == {"id", "body", "status", "created_at"}
    assert msg["status"] in {"queued", "sent", "delivered"}


def _walk(*inputs: str) -> list[str]:
    """The ``text`` of each hop: "", "a", "a*b", ..."""
    return ["*".join(inputs[:i]) for i in range(len(inputs) + 1)]


# -- the phone in a real browser ----------------------------------------------------------


@dataclass
class Phone:
    """The simulator page in headless Chromium, with helpers to press its keys."""

    page: Any
    base_url: str
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def hop(self) -> int:
        return int(self.page.get_by_test_id("phone").get_attribute("data-hop"))

    def screen(self) -> str:
        return str(self.page.get_by_test_id("screen").text_content())

    def lines(self) -> list[str]:
        return self.screen().splitlines()

    def after_hop(self, action: Callable[[], None]) -> str:
        """Run ``action`` and wait for the phone to handle one more answer."""
        before = self.hop
        action()
        self.page.wait_for_function(
            "n => Number(document.getElementById('phone').dataset.hop) > n", arg=before
        )
        return self.screen()

    def tap(self, keys: str) -> None:
        names = {"*": "star", "#": "hash"}
        for key in keys:
            self.page.get_by_test_id(f"key-{names.get(key, key)}").click()

    def send(self, keys: str) -> str:
        """Tap ``keys`` on the keypad and press Call/Send."""
        self.tap(keys)
        return self.after_hop(lambda: self.page.get_by_test_id("call").click())

    def state(self) -> str:
        return str(self.page.get_by_test_id("phone").get_attribute("data-state"))

    def console(self, kind: str, text: str) -> None:
        # Chromium logs every 4xx; the 400s are answers the tests ask for.
        if kind == "error" and not text.startswith(EXPECTED_400):
            self.errors.append(text)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.fixture
def phone(app: Flask) -> Iterator[Phone]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with serve(app) as base_url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 900, "height": 1000})
        ph = Phone(page=None, base_url=base_url)

        def guard(route: Any) -> None:
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                ph.blocked.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda exc: ph.errors.append(str(exc)))
        page.on("console", lambda msg: ph.console(msg.type, msg.text))
        ph.page = page
        page.goto(f"{base_url}/simulator")
        try:
            yield ph
        finally:
            context.close()
            browser.close()
    assert ph.blocked == [], f"the page tried to reach other hosts: {ph.blocked}"
    assert ph.errors == [], f"errors in the page: {ph.errors}"


@pytest.mark.browser
def test_browser_walks_to_an_article_and_gets_it_by_sms(phone: Phone) -> None:
    from playwright.sync_api import expect

    page = phone.page
    expect(page).to_have_title(re.compile(re.escape(SERVICE_CODE)))
    expect(page.get_by_test_id("service-code")).to_have_text(SERVICE_CODE)
    expect(page.get_by_test_id("msisdn")).to_have_value(MSISDN)
    assert phone.state() == "idle"
    expect(page.get_by_test_id("inbox-for")).to_contain_text("No messages")

    # Dial the code on the physical keyboard, with a typo fixed by Backspace.
    page.locator("body").click()
    page.keyboard.type(SERVICE_CODE + "5")
    page.keyboard.press("Backspace")
    expect(page.get_by_test_id("entry")).to_have_text(SERVICE_CODE)
    screen = phone.after_hop(lambda: page.get_by_test_id("call").click())
    assert phone.lines()[:2] == ["Language/Lugha/Langue/语言", "1 English"]
    assert "4 中文" in screen
    assert phone.state() == "open"

    # English, chosen with a keypad tap and the Enter key.
    phone.tap("1")
    expect(page.get_by_test_id("entry")).to_have_text("1")
    screen = phone.after_hop(lambda: page.keyboard.press("Enter"))
    assert phone.lines()[0] == "Ngazi main menu"
    assert "1 Policies & benefits" in screen and "7 Language" in screen
    phone.shot("simulator-main-menu.png")

    # Policies & benefits: a list of categories.
    screen = phone.send("1")
    lines = phone.lines()
    assert lines[0] == "Policies & benefits"
    assert lines[-1] == "0 Back"  # back is home here: no 00
    category = next(line for line in lines if line.startswith("1 ")).removeprefix("1 ")

    # The first category: a list of articles under its name.
    phone.send("1")
    lines = phone.lines()
    assert lines[0] == category
    article = next(line for line in lines if line.startswith("1 ")).removeprefix("1 ")

    # The first article: its title, then its text.
    phone.send("1")
    lines = phone.lines()
    assert lines[0] == article
    assert len(lines) > 2 and "0 Back" in lines
    phone.shot("simulator-article.png")

    # 98 to the last page, where "1 Send me this by SMS" shows.
    text = "1*1*1*1"
    while "1 Send me this by SMS" not in phone.lines():
        assert "98 More" in phone.lines()
        phone.send("98")
        text += "*98"

    # 1: send it by SMS; the inbox shows it.
    phone.send("1")
    assert phone.lines()[:2] == [article, SENT]
    assert page.get_by_test_id("phone").get_attribute("data-text") == text + "*1"
    sms = page.get_by_test_id("sms")
    expect(sms).to_have_count(1)
    expect(sms.first.locator(".sms-body")).to_contain_text(article)
    expect(page.get_by_test_id("inbox-for")).to_contain_text(f"1 message for {MSISDN}")
    phone.shot("simulator-inbox.png")

    # 0: back to the article; 00: home.
    phone.send("0")
    assert phone.lines()[0] == article
    screen = phone.send("00")
    assert phone.lines()[0] == "Ngazi main menu"
    assert "1 Policies & benefits" in screen
    assert phone.state() == "open"

    # Hang up: the session is over, the phone is idle again.
    page.get_by_test_id("hangup").click()
    assert phone.state() == "idle"
    expect(page.get_by_test_id("screen")).to_contain_text(f"Dial {SERVICE_CODE}")
    expect(page.get_by_test_id("sms")).to_have_count(1)
    assert phone.blocked == []


@pytest.mark.browser
def test_browser_call_on_empty_entry_dials_the_service_and_shows_errors(
    phone: Phone,
) -> None:
    from playwright.sync_api import expect

    page = phone.page

    # Call with nothing typed dials the service code; a second call from the
    # same number skips the language screen.
    phone.after_hop(lambda: page.get_by_test_id("call").click())
    assert phone.lines()[0].startswith("Language/")
    phone.send("1")
    page.keyboard.press("Escape")
    assert phone.state() == "idle"
    phone.after_hop(lambda: page.get_by_test_id("call").click())
    assert phone.lines()[0] == "Ngazi main menu"

    # Jobs near the caller (none open in this test), then 00 home.
    phone.send("2")
    assert phone.lines()[0] == "Jobs near you"
    phone.send("00")
    assert phone.lines()[0] == "Ngazi main menu"
    page.get_by_test_id("hangup").click()

    # A shortcut dial reaches the menu in one hop: *384*1234*1#.
    phone.tap(SERVICE_CODE.removesuffix("#") + "*1#")
    phone.after_hop(lambda: page.get_by_test_id("call").click())
    assert phone.lines()[0] == "Policies & benefits"
    page.get_by_test_id("hangup").click()

    # Another code: the service answers END, and the session is over.
    phone.tap("*123#")
    screen = phone.after_hop(lambda: page.keyboard.press("Enter"))
    assert "This service code is not in use" in screen
    assert phone.state() == "ended"

    # A number that is not a phone number: the 400 answer is shown.
    page.get_by_test_id("msisdn").fill("hello")
    screen = phone.after_hop(lambda: page.get_by_test_id("call").click())
    assert screen.startswith("Error 400")
    assert "is not a phone number" in screen
    assert phone.state() == "error"
    expect(page.get_by_test_id("inbox-for")).to_contain_text("not a phone number")

    # Back to a good number: the inbox refresh button lists nothing for it.
    page.get_by_test_id("msisdn").fill("+254700000202")
    page.get_by_test_id("inbox-refresh").click()
    expect(page.get_by_test_id("inbox-for")).to_contain_text("No messages for +254700000202")
    assert phone.blocked == []

    # The guard works: a request to another host is stopped and recorded.
    outcome = page.evaluate("fetch('http://example.invalid/x').then(() => 'sent', () => 'failed')")
    assert outcome == "failed"
    assert phone.blocked == ["http://example.invalid/x"]
    phone.blocked.clear()
    phone.errors[:] = [e for e in phone.errors if "ERR_FAILED" not in e]

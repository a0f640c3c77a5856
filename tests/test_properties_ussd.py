"""Properties of ``POST /ussd`` (issue 7): whatever the gateway posts, the answer
is never a 5xx; a 200 starts ``CON ``/``END `` and fits one screen as the engine
measures it (``menus.screen.size``: GSM-7 septets, or UTF-16 units once any
character needs UCS-2); a 4xx is a short plain reason. Also whole sessions that
grow input by input, as a caller types them.

The examples of one test share the database and Redis (the ``app`` fixture
resets them once per test, not per example): each example dials with its own
session ids, and what earlier examples left behind is one more arbitrary state.
"""

from __future__ import annotations

import itertools
import string
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from werkzeug.test import TestResponse

from menus.engine import Engine
from menus.screen import size
from tests.conftest import SERVICE_CODE

#: Examples share the app's database (reset once per test, see above); a hop is
#: a few milliseconds, so these tests take a quarter of the profile's examples.
ENDPOINT = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    max_examples=max(10, settings.default.max_examples // 4),
)

PHONES = ["+254700000101", "+254700000102", "0700000103", "254700000104", " 254700000105"]
CADRE, PIN = "+254700000901", "2468"  # the demo cadre (demo/staff.yaml): 8 Staff, PIN
_session_numbers = itertools.count()

# Any text (Hypothesis's default alphabet: every code point but surrogates, so
# control characters, NUL, RTL marks and emoji included).
any_text = st.text()
huge_text = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(200, 3000))
#: One caller input: the reserved keys, numbers, letters, or anything.
one_input = st.one_of(
    st.sampled_from(["0", "00", "98", "1", "2", "3", "4", "5", "9", "01", "#", "", " 1 "]),
    st.from_regex(r"[0-9]{1,5}", fullmatch=True),
    st.text(string.ascii_letters + " ", max_size=12),
    st.text(max_size=8),
)
inputs_text = st.lists(one_input, max_size=20).map("*".join)
ussd_text = st.one_of(any_text, inputs_text, huge_text, st.just(""))


def _field(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly a plausible value, sometimes anything: empty, huge, NUL, spaces."""
    return st.one_of(valid, valid, st.sampled_from(["", " ", "\x00", "x" * 5000]), any_text)


def _new_session(draw_suffix: str = "") -> str:
    return f"ATUid_prop{next(_session_numbers)}{draw_suffix}"


plausible_form = st.fixed_dictionaries(
    {
        "sessionId": _field(st.builds(_new_session, st.text(max_size=5))),
        "serviceCode": _field(st.just(SERVICE_CODE)),
        "phoneNumber": _field(st.sampled_from(PHONES)),
        "text": ussd_text,
    },
    optional={"networkCode": _field(st.sampled_from(["63902", "63903", "639020"]))},
)
arbitrary_form = st.dictionaries(
    st.one_of(
        st.sampled_from(["sessionId", "serviceCode", "phoneNumber", "networkCode", "text"]),
        any_text,
    ),
    any_text,
    max_size=6,
)


def check_answer(resp: TestResponse, engine: Engine) -> str:
    """The invariants of any answer; returns its body."""
    body = resp.get_data(as_text=True)
    assert resp.status_code < 500, (resp.status_code, body)
    assert resp.mimetype == "text/plain"
    if resp.status_code == 200:
        assert body.startswith(("CON ", "END ")), body
        assert size(body).fits(engine.limits), body
    else:
        assert 400 <= resp.status_code < 500, resp.status_code
        # A short reason in plain words: it does not echo what was posted.
        assert len(body) <= 120 and "\n" not in body, body
    return body


def _engine(app: Flask) -> Engine:
    engine: Engine = app.extensions["ngazi_ussd_engine"]
    return engine


@ENDPOINT
@given(form=st.one_of(plausible_form, arbitrary_form))
def test_any_callback_gets_a_screen_or_a_short_refusal(
    client: FlaskClient, app: Flask, form: dict[str, str]
) -> None:
    # check_answer asserts every invariant (test_check_answer_refuses_what_it_should
    # shows that it fails when it should).
    check_answer(client.post("/ussd", data=form), _engine(app))


@ENDPOINT
@given(body=st.binary(max_size=300), content_type=st.sampled_from(["form", "multipart", "none"]))
def test_any_request_body_gets_a_screen_or_a_short_refusal(
    client: FlaskClient, app: Flask, body: bytes, content_type: str
) -> None:
    """Bytes that are no form at all: invalid UTF-8, stray ``%``, ``&`` and ``=``."""
    # A valid form in front, so the raw bytes reach the engine as `text` now and then.
    prefix = f"sessionId={_new_session()}&serviceCode=%2A384%2A1234%23&phoneNumber=%2B254700000101&"
    headers = {
        "form": {"content_type": "application/x-www-form-urlencoded"},
        "multipart": {"content_type": "multipart/form-data; boundary=x"},
        "none": {},
    }[content_type]
    resp = client.post("/ussd", data=prefix.encode() + body, **headers)
    check_answer(resp, _engine(app))  # asserts the invariants


@ENDPOINT
@given(text=ussd_text, msisdn=st.sampled_from(PHONES))
def test_a_first_callback_with_any_text_answers_a_screen(
    client: FlaskClient, app: Flask, text: str, msisdn: str
) -> None:
    """A valid callback whose ``text`` is anything (a shortcut dial, a replay,
    garbage, past ``USSD_MAX_TEXT``) always gets a 200 screen."""
    form = {"sessionId": _new_session(), "serviceCode": SERVICE_CODE, "phoneNumber": msisdn}
    form |= {"networkCode": "63902", "text": text}
    encoded = urlencode(form)  # as the gateway posts it, so its size is known here
    resp = client.post("/ussd", data=encoded, content_type="application/x-www-form-urlencoded")
    if len(encoded) > app.config["MAX_CONTENT_LENGTH"]:
        assert resp.status_code == 413  # past any callback: refused unread
    elif "\x00" in text:
        assert resp.status_code == 400
    else:
        assert resp.status_code == 200
    check_answer(resp, _engine(app))


class Journey(RuleBasedStateMachine):
    """One caller's session: the same ``sessionId``, ``text`` growing by ``*``
    and one input per hop (sometimes a hop repeated, as the gateway retries)."""

    client: FlaskClient
    engine: Engine

    def __init__(self) -> None:
        super().__init__()
        self.session = _new_session()
        self.inputs: list[str] = []
        self.msisdn = PHONES[0]
        self.ended = False

    def _dial(self, text: str) -> str:
        form = {
            "sessionId": self.session,
            "serviceCode": SERVICE_CODE,
            "phoneNumber": self.msisdn,
            "networkCode": "63902",
            "text": text,
        }
        resp = self.client.post("/ussd", data=form)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return check_answer(resp, self.engine)

    @initialize(msisdn=st.sampled_from([*PHONES, CADRE]))
    def dial_in(self, msisdn: str) -> None:
        self.msisdn = msisdn
        self._dial("")

    @rule(
        key=st.sampled_from(
            ["1", "1", "2", "2", "3", "4", "5", "6", "7", "8", "0", "00", "98", PIN]
        )
    )
    def press_a_menu_key(self, key: str) -> None:
        self.press(key)

    @rule(key=one_input.filter(lambda k: "\x00" not in k and "*" not in k))
    def press_anything(self, key: str) -> None:
        self.press(key)

    def press(self, key: str) -> None:
        if self.ended:  # the gateway sends nothing after END: a new session starts
            self.session, self.inputs, self.ended = _new_session(), [], False
            self._dial("")
        self.inputs.append(key)
        body = self._dial("*".join(self.inputs))
        self.ended = body.startswith("END ")

    @rule()
    def repeat_last_hop(self) -> None:
        """A retried callback gets the same screen again."""
        if self.ended or not self.inputs:
            return
        text = "*".join(self.inputs)
        assert self._dial(text) == self._dial(text)


def test_sessions_growing_input_by_input(client: FlaskClient, app: Flask) -> None:
    """Every hop of the state machine goes through ``check_answer`` (``Journey._dial``),
    and ``repeat_last_hop`` asserts a retried callback's screen; Hypothesis raises
    the first failure with the shortest journey that shows it."""

    def machine() -> Journey:
        journey = Journey()
        journey.client, journey.engine = client, _engine(app)
        return journey

    run_state_machine_as_test(
        machine,
        settings=settings(
            ENDPOINT,
            max_examples=max(5, settings.default.max_examples // 5),
            stateful_step_count=25,
        ),
    )


def test_check_answer_refuses_what_it_should(app: Flask) -> None:
    """The checker itself: a too-long or unprefixed 200, and a 5xx, fail."""

    def resp(body: str, status: int = 200) -> Any:
        return app.response_class(body, status=status, mimetype="text/plain")

    engine = _engine(app)
    assert check_answer(resp("CON fits"), engine) == "CON fits"
    for bad in (resp("CON " + "a" * 157), resp("CON " + "中" * 67), resp("fits"), resp("x", 500)):
        try:
            check_answer(bad, engine)
        except AssertionError:
            continue
        raise AssertionError(f"accepted {bad.get_data(as_text=True)!r}")

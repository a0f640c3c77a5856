"""The mock Africa's Talking SMS gateway, over real HTTP: answers, bad requests,
seeded failures, counters, delivery reports and the command line."""

from __future__ import annotations

import json
import random
import selectors
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.gateways.mock_server import MockGateway, serve

A, B, C = "+254700000001", "+254700000002", "+254700000003"
ROOT = Path(__file__).resolve().parent.parent


def _call(
    url: str, fields: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """GET ``url``, or POST ``fields`` form-encoded; (HTTP status, decoded JSON)."""
    data = None if fields is None else urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _send(gw: MockGateway, to: str, message: str = "Habari") -> tuple[int, Any]:
    form = {"username": "ngazi", "to": to, "message": message, "bulkSMSMode": "1"}
    return _call(f"{gw.base_url}/messaging", form, {"apiKey": "k"})


def _root(gw: MockGateway) -> str:
    return gw.base_url.removesuffix("/version1")


def _recipient(code: int, number: str, status: str, message_id: str = "None") -> dict[str, Any]:
    cost = "KES 0.8000" if code == 101 else "0"
    return {
        "statusCode": code,
        "number": number,
        "status": status,
        "cost": cost,
        "messageId": message_id,
    }


def test_answers_each_recipient_with_its_code() -> None:
    with serve(MockGateway(codes={B: 406})) as gw:
        status, body = _send(gw, f"{A}, {B},0700000003")
    assert status == 201
    assert body == {
        "SMSMessageData": {
            "Message": "Sent to 1/3 Total Cost: KES 0.8000",
            "Recipients": [
                _recipient(101, A, "Success", "ATXid_mock1"),
                _recipient(406, B, "UserInBlacklist"),
                _recipient(403, "0700000003", "InvalidPhoneNumber"),
            ],
        }
    }
    [req] = gw.requests
    assert req["form"] == {
        "username": "ngazi",
        "to": f"{A}, {B},0700000003",
        "message": "Habari",
        "bulkSMSMode": "1",
    }


@pytest.mark.parametrize(
    ("fields", "headers", "status", "error"),
    [
        ({"username": "u", "message": "m"}, {"apiKey": "k"}, 400, "to"),
        ({"to": A}, {"apiKey": "k"}, 400, "username, message"),
        ({"username": "u", "to": " ", "message": "m"}, {"apiKey": "k"}, 400, "to"),
        ({"username": "u", "to": A, "message": "m"}, {}, 401, None),
    ],
)
def test_bad_requests_are_refused(
    fields: dict[str, str], headers: dict[str, str], status: int, error: str | None
) -> None:
    with serve() as gw:
        got = _call(f"{gw.base_url}/messaging", fields, headers)
        stats = gw.stats()
    expected = f"missing required form field(s): {error}" if error else None
    assert got == (status, {"error": expected or "The supplied authentication is invalid"})
    assert (stats["requests"], stats["errors"], stats["recipients"]) == (1, 1, 0)


def test_unknown_paths_are_404() -> None:
    with serve() as gw:
        assert _call(f"{gw.base_url}/airtime/send", {"x": "1"}) == (404, {"error": "not found"})
        assert _call(f"{_root(gw)}/version1/messaging") == (404, {"error": "not found"})
        assert gw.request_count == 0


def test_error_rate_fails_whole_requests_repeatably() -> None:
    draws = random.Random(7)
    expected = [500 if draws.random() < 0.5 else 201 for _ in range(12)]
    with serve(MockGateway(error_rate=0.5, seed=7)) as gw:
        got = [_send(gw, A)[0] for _ in range(12)]
        stats = gw.stats()
    assert got == expected
    assert 0 < expected.count(500) < 12
    assert (stats["requests"], stats["errors"]) == (12, expected.count(500))
    assert stats["accepted"] == expected.count(201)


def test_failure_rate_gives_recipients_the_failure_code_repeatably() -> None:
    numbers = [f"+2547000001{i:02d}" for i in range(10)]
    draws = random.Random(3)
    expected = [407 if draws.random() < 0.3 else 101 for _ in numbers]
    with serve(MockGateway(failure_rate=0.3, failure_code=407, seed=3)) as gw:
        _, body = _send(gw, ",".join(numbers))
    got = [r["statusCode"] for r in body["SMSMessageData"]["Recipients"]]
    assert got == expected
    assert 0 < expected.count(407) < 10
    assert gw.accepted_count == expected.count(101)


def test_forced_http_status() -> None:
    with serve(MockGateway(http_status=503)) as gw:
        assert _send(gw, A) == (503, {"error": "mock failure"})
        assert (gw.request_count, gw.error_count, gw.recipient_count) == (1, 1, 0)


def test_keeps_only_the_last_requests_but_counts_all() -> None:
    with serve(MockGateway(keep_requests=3)) as gw:
        for i in range(5):
            _send(gw, A, f"m{i}")
    assert [r["form"]["message"] for r in gw.requests] == ["m2", "m3", "m4"]
    assert (gw.request_count, gw.recipient_count, gw.accepted_count) == (5, 5, 5)


def test_duplicates_stats_accepted_and_reset() -> None:
    with serve(MockGateway(codes={C: 406})) as gw:
        _send(gw, f"{A},{B},{C}", "hi")
        _send(gw, A, "hi")  # a repeat of (A, "hi")
        _send(gw, A, "other")  # a new message: not a duplicate
        _send(gw, C, "hi")  # refused both times: not accepted, not a duplicate
        stats = _call(f"{_root(gw)}/mock/stats")
        accepted_a = _call(f"{_root(gw)}/mock/accepted?number={A}")  # literal "+"
        accepted_c = _call(f"{_root(gw)}/mock/accepted?number={urllib.parse.quote(C)}")
        reset = _call(f"{_root(gw)}/mock/reset", {})
        after = _call(f"{_root(gw)}/mock/accepted?number={A}")
    zero = {
        "reports_sent": 0,
        "reports_failed": 0,
        "reports_dropped": 0,
        "reports_pending": 0,
        "reports_max_lag_ms": 0,
    }
    assert stats == (
        200,
        {"requests": 4, "recipients": 6, "accepted": 4, "duplicates": 1, "errors": 0} | zero,
    )
    assert accepted_a == (200, {"number": A, "accepted": 3})
    assert accepted_c == (200, {"number": C, "accepted": 0})
    assert reset == (
        200,
        {"requests": 0, "recipients": 0, "accepted": 0, "duplicates": 0, "errors": 0} | zero,
    )
    assert after == (200, {"number": A, "accepted": 0})
    assert len(gw.requests) == 0


def test_no_tracking_counts_no_duplicates() -> None:
    with serve(MockGateway(track_duplicates=False)) as gw:
        _send(gw, A)
        _send(gw, A)
        got = _call(f"{_root(gw)}/mock/accepted?number={A}")
    assert (gw.accepted_count, gw.duplicates) == (2, 0)
    assert got == (400, {"error": "give ?number=, with duplicate tracking on"})


@contextmanager
def _receiver() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A tiny HTTP server that records the forms posted to it; (URL, forms)."""
    received: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append(dict(urllib.parse.parse_qsl(raw)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/sms/delivery", received
    finally:
        server.shutdown()
        server.server_close()


def test_delivery_reports_are_posted_after_the_answer() -> None:
    with _receiver() as (url, received):
        gw = MockGateway(dlr_url=url, dlr_statuses={B: "Failed"}, codes={C: 406}, dlr_delay=0.2)
        with serve(gw):
            status, _ = _send(gw, f"{A},{B},{C}")
            before = list(received)  # the answer did not wait for the reports
            assert gw.flush_reports(2.0)
    assert (status, before) == (201, [])
    assert sorted(received, key=lambda r: r["phoneNumber"]) == [
        {"id": "ATXid_mock1", "status": "Success", "phoneNumber": A, "networkCode": "63902"},
        {
            "id": "ATXid_mock2",
            "status": "Failed",
            "phoneNumber": B,
            "networkCode": "63902",
            "failureReason": "DeliveryFailure",
        },
    ]
    assert (gw.stats()["reports_sent"], gw.stats()["reports_failed"]) == (2, 0)


def test_a_failed_report_post_is_counted_and_dropped() -> None:
    with _receiver() as (url, _):
        pass  # the receiver is gone: its port now refuses connections
    with serve(MockGateway(dlr_url=url)) as gw:
        assert _send(gw, A)[0] == 201
        assert gw.flush_reports(2.0)
        stats = gw.stats()
    assert (stats["reports_sent"], stats["reports_failed"], stats["reports_pending"]) == (0, 1, 0)


def test_command_line_serves_until_terminated() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.gateways.mock_server", "--port", "0"]
        + ["--code", f"{B}=406", "--no-track"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=20), "the mock server printed no base URL"
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/version1")
        form = {"username": "ngazi", "to": f"{A},{B}", "message": "Habari"}
        status, body = _call(f"{base_url}/messaging", form, {"apiKey": "k"})
        assert status == 201
        assert body["SMSMessageData"]["Message"] == "Sent to 1/2 Total Cost: KES 0.8000"
        assert [r["statusCode"] for r in body["SMSMessageData"]["Recipients"]] == [101, 406]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    assert '"requests": 1' in proc.stderr.read()

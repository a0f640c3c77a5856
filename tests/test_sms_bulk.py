"""Bulk SMS through the Africa's Talking SDK against the local mock gateway (real
HTTP), a canned-answer server for answers the mock never gives, and the outbox."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.gateways import (
    INSUFFICIENT_BALANCE,
    BulkRecipient,
    GatewayUnavailable,
    SendResult,
    sms_sender,
)
from app.gateways.africastalking import AfricasTalkingSms
from app.gateways.mock_server import MockGateway, serve
from app.gateways.outbox import OutboxSms
from models import SmsStatus

A, B, C = "+254700000001", "+254700000002", "+254700000003"


@pytest.fixture
def gateway() -> Iterator[MockGateway]:
    with serve() as gw:
        yield gw


def _sender(base_url: str, timeout: float = 5.0) -> AfricasTalkingSms:
    return AfricasTalkingSms(
        "ngazi", "test-key", base_url=base_url, sender_id="NGAZI", timeout=timeout
    )


def test_each_number_gets_its_own_result_in_input_order(gateway: MockGateway) -> None:
    gateway.codes.update({A: 406, B: INSUFFICIENT_BALANCE})
    got = _sender(gateway.base_url).send_bulk([A, B, C], "Habari")
    assert got == [
        BulkRecipient(A, 406, SmsStatus.REJECTED, None, "0", "UserInBlacklist"),
        BulkRecipient(B, 405, None, None, "0", "InsufficientBalance"),
        BulkRecipient(C, 101, SmsStatus.SENT, "ATXid_mock1", "KES 0.8000", None),
    ]
    [req] = gateway.requests
    assert req["form"] == {
        "username": "ngazi",
        "to": f"{A},{B},{C}",
        "message": "Habari",
        "bulkSMSMode": "1",
        "from": "NGAZI",
    }


def test_invalid_number_is_rejected_without_failing_the_others(gateway: MockGateway) -> None:
    got = _sender(gateway.base_url).send_bulk([A, "0700 000 002", C], "Habari")
    assert got == [
        BulkRecipient(A, 101, SmsStatus.SENT, "ATXid_mock1", "KES 0.8000", None),
        BulkRecipient("0700 000 002", 403, SmsStatus.REJECTED, None, None, "InvalidPhoneNumber"),
        BulkRecipient(C, 101, SmsStatus.SENT, "ATXid_mock2", "KES 0.8000", None),
    ]
    [req] = gateway.requests
    assert req["form"]["to"] == f"{A},{C}"


def test_only_invalid_numbers_make_no_request(gateway: MockGateway) -> None:
    got = _sender(gateway.base_url).send_bulk(["0700000001"], "Habari")
    assert got == [
        BulkRecipient("0700000001", 403, SmsStatus.REJECTED, None, None, "InvalidPhoneNumber")
    ]
    assert gateway.request_count == 0


@pytest.mark.parametrize("failure", ["http500", "error_rate"])
def test_failed_request_raises_gateway_unavailable(gateway: MockGateway, failure: str) -> None:
    if failure == "http500":
        gateway.http_status = 500
    else:
        gateway.error_rate = 1.0
    with pytest.raises(GatewayUnavailable, match="^HTTP 500: "):
        _sender(gateway.base_url).send_bulk([A, B], "Habari")
    assert gateway.request_count == 1


def test_answer_slower_than_the_timeout_raises_gateway_unavailable(gateway: MockGateway) -> None:
    gateway.latency = 0.5
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable, match="timed out"):
        _sender(gateway.base_url, timeout=0.1).send_bulk([A], "Habari")
    assert time.monotonic() - started < 0.4


def test_timeout_comes_from_the_settings(gateway: MockGateway) -> None:
    gateway.latency = 0.5
    sender = sms_sender(
        {
            "AT_USERNAME": "ngazi",
            "AT_API_KEY": "k",
            "AT_SMS_BASE_URL": gateway.base_url,
            "AT_SMS_TIMEOUT": 0.1,
        }
    )
    with pytest.raises(GatewayUnavailable):
        sender.send_bulk([A], "Habari")


def test_connection_refused_raises_gateway_unavailable() -> None:
    with serve() as gw:
        base_url = gw.base_url
    with pytest.raises(GatewayUnavailable):
        _sender(base_url).send_bulk([A], "Habari")


@contextmanager
def _canned(status: int, body: str) -> Iterator[str]:
    """A server answering every POST with ``status`` and JSON-typed ``body``; its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers["Content-Length"]))
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/version1"
    finally:
        server.shutdown()
        server.server_close()


def test_number_missing_from_the_answer_is_retried_later() -> None:
    answer = (
        '{"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: KES 0.8000", "Recipients": ['
        '{"statusCode": 101, "number": "+254700000003", "status": "Success",'
        ' "cost": "KES 0.8000", "messageId": "ATXid_c"}]}}'
    )
    with _canned(201, answer) as url:
        got = _sender(url).send_bulk([A, C], "Habari")
    assert got == [
        BulkRecipient(A, None, None, None, None, "no answer for this number"),
        BulkRecipient(C, 101, SmsStatus.SENT, "ATXid_c", "KES 0.8000", None),
    ]


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (201, "{not json", "Expecting property name"),
        (201, '{"SMSMessageData": {"Message": "x"}}', "^unexpected answer"),
        (201, '{"SMSMessageData": {"Recipients": [{"number": "+254700000001"}]}}', "^unexp"),
        (201, '{"SMSMessageData": {"Recipients": "none"}}', "^unexpected answer"),
        (200, '{"SMSMessageData": {"Message": "x", "Recipients": []}}', "^HTTP 200: "),
    ],
)
def test_malformed_answer_raises_gateway_unavailable(status: int, body: str, match: str) -> None:
    with _canned(status, body) as url, pytest.raises(GatewayUnavailable, match=match):
        _sender(url).send_bulk([A], "Habari")


def test_send_one_keeps_its_behaviour(gateway: MockGateway) -> None:
    sender = _sender(gateway.base_url)
    assert sender.send(A, "Habari") == SendResult(SmsStatus.SENT, "ATXid_mock1", "KES 0.8000")
    gateway.codes[A] = 406
    assert sender.send(A, "Habari") == SendResult(SmsStatus.REJECTED, None, "0", "UserInBlacklist")
    gateway.codes[A] = INSUFFICIENT_BALANCE
    with pytest.raises(GatewayUnavailable, match="^405 InsufficientBalance$"):
        sender.send(A, "Habari")
    assert sender.send("0700000001", "Habari") == SendResult(
        SmsStatus.REJECTED, None, None, "InvalidPhoneNumber"
    )
    assert gateway.request_count == 3


def test_outbox_sends_every_number() -> None:
    assert sms_sender({}).name == "outbox"
    assert OutboxSms().send_bulk([A, "0700"], "Habari") == [
        BulkRecipient(A, None, SmsStatus.SENT, None, "0", None),
        BulkRecipient("0700", None, SmsStatus.SENT, None, "0", None),
    ]

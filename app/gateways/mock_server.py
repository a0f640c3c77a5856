"""A local HTTP server that speaks Africa's Talking's bulk SMS API, for tests and
load runs (``python -m app.gateways.mock_server --port 8099``).

``POST /version1/messaging``, form-encoded: ``username``, ``to`` (comma-separated
E.164 numbers), ``message``, optional ``from``, ``bulkSMSMode`` and ``enqueue``;
header ``apiKey``. Answers HTTP 201, ``Content-Type: application/json``::

    {"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: KES 0.8000",
      "Recipients": [{"statusCode": 101, "number": "+254…", "status": "Success",
                      "cost": "KES 0.8000", "messageId": "ATXid_…"}]}}

A missing ``username``, ``to`` or ``message`` is HTTP 400, a missing ``apiKey``
401, another path 404; a malformed number gets statusCode 403 InvalidPhoneNumber.

Delivery reports (when ``dlr_url`` is set): one form-encoded POST per accepted
recipient with ``id``, ``status`` (``Success``, ``Failed``, …), ``phoneNumber``,
``networkCode`` and, when it failed, ``failureReason`` (e.g. ``DeliveryFailure``).

Source: Africa's Talking SMS API documentation, "Sending bulk messages"
(https://developers.africastalking.com/docs/sms/sending/bulk) and "Delivery
reports" (https://developers.africastalking.com/docs/sms/notifications).

Tests set per-number ``codes``, a failing ``http_status``, ``latency``, a seeded
``error_rate`` (whole requests answered 500) and ``failure_rate`` (recipients
given ``failure_code``). Memory is bounded: the last ``keep_requests`` requests
are kept, plus counters, plus (unless ``track_duplicates`` is off) a count per
(number, message) sent — turn that off for long load runs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import random
import re
import signal
import sys
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from app.gateways.mock_reports import ReportQueue

log = logging.getLogger(__name__)

STATUS_NAMES = {
    100: "Processed",
    101: "Success",
    102: "Queued",
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}
ACCEPTED = frozenset({100, 101, 102})
PRICE = 0.8  # KES per accepted recipient
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # ITU-T E.164: at most 15 digits
_REQUIRED = ("username", "to", "message")
_MAX_BODY = 8 << 20  # bytes; 1,000 numbers take about 17 kB


@dataclass
class MockGateway:
    """The gateway's behaviour and what it has seen. Settings may be changed while
    it serves; counters are guarded by a lock (many handler threads at once)."""

    codes: dict[str, int] = field(default_factory=dict)  # msisdn → statusCode (default 101)
    http_status: int = 201  # anything else: every send answered with that status
    latency: float = 0.0  # seconds before answering
    error_rate: float = 0.0  # fraction of sends answered HTTP 500
    failure_rate: float = 0.0  # fraction of recipients given failure_code
    failure_code: int = 500
    seed: int = 0  # of the random draws behind error_rate and failure_rate
    keep_requests: int = 1000  # how many recent requests ``requests`` holds
    track_duplicates: bool = True  # count sends per (number, message)
    dlr_url: str | None = None  # where to post delivery reports; None: none
    dlr_status: str = "Success"
    dlr_statuses: dict[str, str] = field(default_factory=dict)  # msisdn → report status
    dlr_delay: float = 0.0  # seconds between the answer and the report
    dlr_network_code: str = "63902"  # Safaricom (MCC 639, MNC 02)
    base_url: str = ""  # set by ``serve``: what AT_SMS_BASE_URL should be

    request_count: int = field(default=0, init=False)
    recipient_count: int = field(default=0, init=False)
    accepted_count: int = field(default=0, init=False)
    duplicates: int = field(default=0, init=False)
    error_count: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.requests: deque[dict[str, Any]] = deque(maxlen=self.keep_requests)
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        self._ids = itertools.count(1)
        self._sent: dict[str, dict[str, int]] = {}  # message → {number: times accepted}
        self.reports = ReportQueue()

    def answer(self, form: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """HTTP status and JSON payload for one ``POST /version1/messaging``."""
        with self._lock:
            self.request_count += 1
            self.requests.append({"form": form, "headers": headers})
        if self.latency > 0:
            time.sleep(self.latency)
        status, payload = self._refusal(form, headers)
        if status == 201:
            numbers = [n.strip() for n in form["to"].split(",") if n.strip()]
            status, payload = self._send(numbers, form["message"])
        if status != 201:
            with self._lock:
                self.error_count += 1
        return status, payload

    def _refusal(self, form: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        missing = [name for name in _REQUIRED if not form.get(name, "").strip()]
        if missing:
            return 400, {"error": f"missing required form field(s): {', '.join(missing)}"}
        if not any(k.lower() == "apikey" and v for k, v in headers.items()):
            return 401, {"error": "The supplied authentication is invalid"}
        if self.http_status != 201:
            return self.http_status, {"error": "mock failure"}
        return 201, {}

    def _send(self, numbers: list[str], message: str) -> tuple[int, dict[str, Any]]:
        recipients: list[dict[str, Any]] = []
        reports: list[dict[str, str]] = []
        sent = 0
        cost = f"KES {PRICE:.4f}"
        dlr_url = self.dlr_url
        with self._lock:
            if self.error_rate > 0 and self._rng.random() < self.error_rate:
                return 500, {"error": "InternalServerError (mock error_rate)"}
            seen = self._sent.setdefault(message, {}) if self.track_duplicates else None
            for number in numbers:
                code = self.codes.get(number)
                if code is None:
                    if not _E164.fullmatch(number):
                        code = 403
                    elif self.failure_rate > 0 and self._rng.random() < self.failure_rate:
                        code = self.failure_code
                    else:
                        code = 101
                ok = code in ACCEPTED
                message_id = f"ATXid_mock{next(self._ids)}" if ok else "None"
                recipients.append(
                    {
                        "statusCode": code,
                        "number": number,
                        "status": STATUS_NAMES.get(code, "Unknown"),
                        "cost": cost if ok else "0",
                        "messageId": message_id,
                    }
                )
                if not ok:
                    continue
                sent += 1
                if seen is not None:
                    times = seen.get(number, 0)
                    self.duplicates += times > 0
                    seen[number] = times + 1
                if dlr_url:
                    reports.append(self._report(message_id, number))
            self.recipient_count += len(recipients)
            self.accepted_count += sent
        if dlr_url and reports:
            self.reports.put(dlr_url, reports, delay=self.dlr_delay)
        return 201, {
            "SMSMessageData": {
                "Message": f"Sent to {sent}/{len(recipients)} Total Cost: KES {PRICE * sent:.4f}",
                "Recipients": recipients,
            }
        }

    def _report(self, message_id: str, number: str) -> dict[str, str]:
        status = self.dlr_statuses.get(number, self.dlr_status)
        report = {
            "id": message_id,
            "status": status,
            "phoneNumber": number,
            "networkCode": self.dlr_network_code,
        }
        if status in ("Failed", "Rejected"):
            report["failureReason"] = "DeliveryFailure"
        return report

    def stats(self) -> dict[str, int]:
        """Counters since start or the last ``reset``, and delivery reports posted."""
        with self._lock:
            counts = {
                "requests": self.request_count,
                "recipients": self.recipient_count,
                "accepted": self.accepted_count,
                "duplicates": self.duplicates,
                "errors": self.error_count,
            }
        return counts | self.reports.stats()

    def reset(self) -> None:
        """Zero the counters and forget past requests and sends (not pending reports)."""
        with self._lock:
            self.request_count = self.recipient_count = self.accepted_count = 0
            self.duplicates = self.error_count = 0
            self.requests.clear()
            self._sent.clear()
        self.reports.reset()

    def accepted(self, number: str) -> int:
        """How many sends to ``number`` were accepted (any message); needs ``track_duplicates``."""
        with self._lock:
            return sum(per.get(number, 0) for per in self._sent.values())

    def flush_reports(self, timeout: float = 5.0) -> bool:
        """Wait until every queued delivery report was posted (or dropped); False on timeout."""
        return self.reports.flush(timeout)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive: a bulk sender reuses its connection
    timeout = 60  # seconds an idle kept-alive connection may hold a thread
    # The status line, headers and body are separate writes: with Nagle's
    # algorithm on, each answer on a kept-alive connection waited for the
    # client's delayed ACK (40 ms on Linux), which the real gateway does not.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self.close_connection = True
            self._reply(400, {"error": "bad Content-Length"})
            return
        raw = self.rfile.read(length).decode("utf-8", "replace")
        gw = self.server.gateway
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/version1/messaging":
            form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
            self._reply(*gw.answer(form, dict(self.headers.items())))
        elif path == "/mock/reset":
            gw.reset()
            self._reply(200, gw.stats())
        else:
            self._reply(404, {"error": "not found"})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        gw = self.server.gateway
        path, _, query = self.path.partition("?")
        if path == "/mock/stats":
            self._reply(200, gw.stats())
        elif path == "/mock/accepted":
            # A literal "+" in "?number=+254…" means plus here, not space.
            number = urllib.parse.parse_qs(query.replace("+", "%2B")).get("number", [""])[0]
            if not number or not gw.track_duplicates:
                self._reply(400, {"error": "give ?number=, with duplicate tracking on"})
            else:
                self._reply(200, {"number": number, "accepted": gw.accepted(number)})
        else:
            self._reply(404, {"error": "not found"})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (its timeout); nothing to do

    def log_message(self, *args: object) -> None:
        pass  # no per-request logging: it would cost more than answering


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # listen backlog: many workers connect at once

    def __init__(self, address: tuple[str, int], gateway: MockGateway) -> None:
        self.gateway = gateway
        super().__init__(address, _Handler)


def start(gateway: MockGateway, host: str = "127.0.0.1", port: int = 0) -> _Server:
    """Serve ``gateway`` from a background thread; sets ``gateway.base_url``.
    Stop with ``server.shutdown(); server.server_close(); gateway.reports.close()``."""
    server = _Server((host, port), gateway)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    gateway.base_url = f"http://{host}:{server.server_port}/version1"
    return server


@contextmanager
def serve(
    gateway: MockGateway | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[MockGateway]:
    """Run a mock gateway (on a free port by default) for the ``with`` block;
    ``gateway.base_url`` is what ``AT_SMS_BASE_URL`` should be."""
    gw = gateway or MockGateway()
    server = start(gw, host, port)
    try:
        yield gw
    finally:
        server.shutdown()
        server.server_close()
        gw.reports.close()


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m app.gateways.mock_server", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8099, help="0: any free port")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--error-rate", type=float, default=0.0, help="fraction of sends → HTTP 500")
    p.add_argument("--failure-rate", type=float, default=0.0, help="fraction of recipients failed")
    p.add_argument("--failure-code", type=int, default=500, help="their statusCode")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--code", action="append", default=[], metavar="NUMBER=CODE")
    p.add_argument("--dlr-url", default=None, help="post delivery reports here")
    p.add_argument("--dlr-status", default="Success")
    p.add_argument("--dlr-delay", type=float, default=0.0, help="seconds")
    p.add_argument("--keep-requests", type=int, default=1000)
    p.add_argument("--no-track", action="store_true", help="do not count duplicate sends")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; the first stdout line is the base URL."""
    args = _parse_args(argv)
    from app.log_masking import install

    install()  # its delivery reports' callback URLs carry ?token=
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    codes = {}
    for item in args.code:
        number, _, code = item.partition("=")
        codes[number.strip()] = int(code)
    gw = MockGateway(
        codes=codes,
        latency=args.latency,
        error_rate=args.error_rate,
        failure_rate=args.failure_rate,
        failure_code=args.failure_code,
        seed=args.seed,
        keep_requests=args.keep_requests,
        track_duplicates=not args.no_track,
        dlr_url=args.dlr_url,
        dlr_status=args.dlr_status,
        dlr_delay=args.dlr_delay,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = start(gw, args.host, args.port)
    print(gw.base_url, flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    gw.flush_reports(2.0)
    gw.reports.close()
    log.info("stopped: %s", json.dumps(gw.stats()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

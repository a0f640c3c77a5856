"""A local HTTP server that speaks Africa's Talking's bulk SMS API.

``POST /version1/messaging`` with form fields ``username``, ``to`` (comma-separated
E.164 numbers), ``message`` and optional ``from``; header ``apiKey``. Answers
HTTP 201, ``Content-Type: application/json``::

    {"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: KES 0.8000",
      "Recipients": [{"statusCode": 101, "number": "+254…", "status": "Success",
                      "cost": "KES 0.8000", "messageId": "ATXid_…"}]}}

Per-recipient codes, an HTTP failure status and latency are settable, so tests
can make the gateway refuse, fail or slow down. Every request is recorded.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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


@dataclass
class MockGateway:
    codes: dict[str, int] = field(default_factory=dict)  # msisdn → statusCode (default 101)
    http_status: int = 201  # set to 500 to fail every request
    latency: float = 0.0  # seconds before answering
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def answer(self, form: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.requests.append({"form": form, "headers": headers})
        if self.latency:
            time.sleep(self.latency)
        if self.http_status != 201:
            return self.http_status, {"error": "mock failure"}
        recipients = []
        for number in form.get("to", "").split(","):
            code = self.codes.get(number, 101)
            ok = code in (100, 101, 102)
            recipients.append(
                {
                    "statusCode": code,
                    "number": number,
                    "status": STATUS_NAMES.get(code, "Unknown"),
                    "cost": "KES 0.8000" if ok else "0",
                    "messageId": f"ATXid_mock{next(self._ids)}" if ok else "None",
                }
            )
        sent = sum(r["statusCode"] in (100, 101, 102) for r in recipients)
        return 201, {
            "SMSMessageData": {
                "Message": f"Sent to {sent}/{len(recipients)} Total Cost: KES {0.8 * sent:.4f}",
                "Recipients": recipients,
            }
        }


@contextmanager
def serve(gateway: MockGateway | None = None) -> Iterator[MockGateway]:
    """Run a mock gateway on 127.0.0.1 (a free port) for the ``with`` block;
    ``gateway.base_url`` is what ``AT_SMS_BASE_URL`` should be."""
    gw = gateway or MockGateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8")
            form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
            if self.path.rstrip("/") != "/version1/messaging":
                status, payload = 404, {"error": "not found"}
            else:
                status, payload = gw.answer(form, dict(self.headers.items()))
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    gw.base_url = f"http://127.0.0.1:{server.server_port}/version1"
    try:
        yield gw
    finally:
        server.shutdown()
        server.server_close()

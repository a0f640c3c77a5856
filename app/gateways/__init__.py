"""SMS gateways: Africa's Talking when credentials are set, else the local outbox."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from models import SmsStatus

#: Per-recipient ``statusCode`` for "insufficient balance": the whole account is
#: out of credit, so a campaign should pause rather than retry number by number.
INSUFFICIENT_BALANCE = 405


class GatewayUnavailable(RuntimeError):
    """The gateway could not take the message now (timeout, 5xx, no balance); retry later.

    ``maybe_sent`` is True when the request reached the gateway and its answer
    was lost (a read timeout, a 201 whose body could not be read): the gateway
    may have taken the messages, so sending them again could send them twice.
    """

    def __init__(self, message: str, *, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class SendResult(NamedTuple):
    status: SmsStatus
    message_id: str | None = None
    cost: str | None = None
    failure_reason: str | None = None


class BulkRecipient(NamedTuple):
    """The gateway's answer for one number of a bulk send."""

    msisdn: str
    code: int | None  # the gateway's statusCode; None: it gave none (no answer, outbox)
    status: SmsStatus | None  # None: retry later (405 insufficient balance, 500, 501)
    message_id: str | None
    cost: str | None  # as the gateway writes it, e.g. "KES 0.8000"
    failure_reason: str | None


class SmsSender(Protocol):
    name: str

    def send(self, msisdn: str, body: str) -> SendResult: ...

    def send_bulk(self, msisdns: Sequence[str], body: str) -> list[BulkRecipient]:
        """Send ``body`` to every number in one request: one result per input
        number, in input order. Raises ``GatewayUnavailable`` when the request as a
        whole failed (timeout, connection error, HTTP status other than 201,
        malformed answer)."""
        ...


@functools.lru_cache(maxsize=8)
def _africastalking(
    username: str, api_key: str, base_url: str | None, sender_id: str | None, timeout: float
) -> SmsSender:
    from app.gateways.africastalking import AfricasTalkingSms

    return AfricasTalkingSms(
        username, api_key, base_url=base_url, sender_id=sender_id, timeout=timeout
    )


def sms_sender(config: Mapping[str, Any]) -> SmsSender:
    """The sender the settings ask for: ``AT_USERNAME`` and ``AT_API_KEY`` set means
    Africa's Talking (at ``AT_SMS_BASE_URL`` when set, waiting ``AT_SMS_TIMEOUT``
    seconds for an answer); otherwise the outbox. One Africa's Talking sender
    per process and settings, so its HTTP session (and TLS connection) is kept
    from one message to the next."""
    if config.get("AT_USERNAME") and config.get("AT_API_KEY"):
        return _africastalking(
            config["AT_USERNAME"],
            config["AT_API_KEY"],
            config.get("AT_SMS_BASE_URL") or None,
            config.get("AT_SENDER_ID") or None,
            float(config.get("AT_SMS_TIMEOUT", 30)),
        )
    from app.gateways.outbox import OutboxSms

    return OutboxSms()

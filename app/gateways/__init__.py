"""SMS gateways: Africa's Talking when credentials are set, else the local outbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from models import SmsStatus


class GatewayUnavailable(RuntimeError):
    """The gateway could not take the message now (timeout, 5xx, no balance); retry later."""


class SendResult(NamedTuple):
    status: SmsStatus
    message_id: str | None = None
    cost: str | None = None
    failure_reason: str | None = None


class SmsSender(Protocol):
    name: str

    def send(self, msisdn: str, body: str) -> SendResult: ...


def sms_sender(config: Mapping[str, Any]) -> SmsSender:
    """The sender the settings ask for: ``AT_USERNAME`` and ``AT_API_KEY`` set means
    Africa's Talking (at ``AT_SMS_BASE_URL`` when set); otherwise the outbox."""
    if config.get("AT_USERNAME") and config.get("AT_API_KEY"):
        from app.gateways.africastalking import AfricasTalkingSms

        return AfricasTalkingSms(
            config["AT_USERNAME"],
            config["AT_API_KEY"],
            base_url=config.get("AT_SMS_BASE_URL") or None,
            sender_id=config.get("AT_SENDER_ID") or None,
        )
    from app.gateways.outbox import OutboxSms

    return OutboxSms()

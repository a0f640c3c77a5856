"""The local outbox: with no gateway credentials, a sent message stays in the
``outbound_sms`` table (gateway ``outbox``), where the simulator's inbox reads it."""

from __future__ import annotations

from collections.abc import Sequence

from app.gateways import BulkRecipient, SendResult
from models import SmsStatus


class OutboxSms:
    name = "outbox"

    def send(self, msisdn: str, body: str) -> SendResult:
        return SendResult(SmsStatus.SENT, message_id=None, cost="0")

    def send_bulk(self, msisdns: Sequence[str], body: str) -> list[BulkRecipient]:
        """Every number ``SENT``, as ``send`` does."""
        return [BulkRecipient(m, None, SmsStatus.SENT, None, "0", None) for m in msisdns]

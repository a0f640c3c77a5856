"""Africa's Talking: USSD callbacks in, SMS out.

USSD: the gateway POSTs form fields ``sessionId``, ``serviceCode``,
``phoneNumber``, ``networkCode`` and ``text`` (every input of the session so far,
joined by ``*``), and expects ``text/plain`` starting ``CON `` (more to come) or
``END `` (session over). Source: Africa's Talking USSD API documentation.

SMS: the bulk messaging API (``POST /version1/messaging``) answers 201 with a
per-recipient ``statusCode``; ``STATUS`` maps those codes to ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from app.gateways import GatewayUnavailable, SendResult
from domain.phone import InvalidMsisdn, normalise_msisdn
from models import SmsStatus


class BadCallback(ValueError):
    """The callback is malformed; answer 400 with this message."""


class UssdRequest(NamedTuple):
    session_id: str
    service_code: str
    msisdn: str  # E.164
    network_code: str | None
    text: str  # "" on the first callback, else inputs joined by "*"


MAX_SESSION_ID = 128


def parse_ussd(form: Mapping[str, str], default_region: str) -> UssdRequest:
    """Validate a USSD callback's form fields.

    Raises ``BadCallback`` for a missing or empty ``sessionId``, ``serviceCode``
    or ``phoneNumber``, a phone number that is not possible, or NUL bytes.
    ``text`` may be absent (some gateways omit it on the first callback).
    """
    session_id = (form.get("sessionId") or "").strip()
    service_code = (form.get("serviceCode") or "").strip()
    phone = form.get("phoneNumber") or ""
    if not session_id or not service_code or not phone.strip():
        raise BadCallback("sessionId, serviceCode and phoneNumber are required")
    if len(session_id) > MAX_SESSION_ID or len(service_code) > 32:
        raise BadCallback("sessionId or serviceCode too long")
    text = form.get("text") or ""
    network = (form.get("networkCode") or "").strip()
    if any("\x00" in v for v in (session_id, service_code, phone, text, network)):
        raise BadCallback("NUL byte in a field")
    try:
        msisdn = normalise_msisdn(phone, default_region)
    except InvalidMsisdn as exc:
        raise BadCallback(f"phoneNumber {phone!r} is not a phone number") from exc
    # MCC + MNC, 5 or 6 digits (ITU-T E.212); anything else is not worth keeping.
    network_code = (
        network if network.isascii() and network.isdigit() and len(network) <= 6 else None
    )
    return UssdRequest(session_id, service_code, msisdn, network_code, text.strip())


#: Per-recipient ``statusCode`` of the bulk SMS API → our status, or None where
#: the message should be retried later. Source: Africa's Talking SMS API docs.
STATUS: dict[int, SmsStatus | None] = {
    100: SmsStatus.SENT,  # Processed
    101: SmsStatus.SENT,  # Sent
    102: SmsStatus.SENT,  # Queued (by the gateway)
    401: SmsStatus.REJECTED,  # RiskHold
    402: SmsStatus.REJECTED,  # InvalidSenderId
    403: SmsStatus.REJECTED,  # InvalidPhoneNumber
    404: SmsStatus.REJECTED,  # UnsupportedNumberType
    405: None,  # InsufficientBalance
    406: SmsStatus.REJECTED,  # UserInBlacklist
    407: SmsStatus.REJECTED,  # CouldNotRoute
    409: SmsStatus.REJECTED,  # DoNotDisturbRejection
    500: None,  # InternalServerError
    501: None,  # GatewayError
    502: SmsStatus.REJECTED,  # RejectedByGateway
}


class AfricasTalkingSms:
    """One message at a time through the ``africastalking`` SDK."""

    name = "africastalking"

    def __init__(
        self, username: str, api_key: str, *, base_url: str | None, sender_id: str | None
    ) -> None:
        import africastalking

        self._service = africastalking.SMSService(username, api_key)
        if base_url:
            # The SDK has no setting for this; tests and benchmarks point it at the
            # local mock gateway (AT_SMS_BASE_URL=http://127.0.0.1:PORT/version1).
            self._service._baseUrl = base_url.rstrip("/")
        self._sender_id = sender_id

    def send(self, msisdn: str, body: str) -> SendResult:
        from africastalking.Service import AfricasTalkingException
        from requests import RequestException

        try:
            answer: Any = self._service.send(body, [msisdn], sender_id=self._sender_id)
        except (AfricasTalkingException, RequestException) as exc:
            raise GatewayUnavailable(str(exc)[:200]) from exc
        try:
            recipient = answer["SMSMessageData"]["Recipients"][0]
            code = int(recipient["statusCode"])
        except (TypeError, KeyError, IndexError, ValueError) as exc:
            raise GatewayUnavailable(f"unexpected answer: {str(answer)[:200]}") from exc
        status = STATUS.get(code, SmsStatus.REJECTED)
        if status is None:
            raise GatewayUnavailable(f"{code} {recipient.get('status', '')}")
        return SendResult(
            status,
            message_id=_message_id(recipient.get("messageId")),
            cost=recipient.get("cost"),
            failure_reason=None if status is SmsStatus.SENT else recipient.get("status"),
        )


def _message_id(raw: object) -> str | None:
    # The gateway writes the string "None" where it assigned no id (a refused recipient).
    return None if raw in (None, "", "None") else str(raw)

"""Africa's Talking: USSD callbacks in, SMS out.

USSD: the gateway POSTs form fields ``sessionId``, ``serviceCode``,
``phoneNumber``, ``networkCode`` and ``text`` (every input of the session so far,
joined by ``*``), and expects ``text/plain`` starting ``CON `` (more to come) or
``END `` (session over). Source: Africa's Talking USSD API documentation.

SMS: the bulk messaging API (``POST /version1/messaging``, ``to`` a comma-separated
list of numbers) answers 201 with a per-recipient ``statusCode``; ``STATUS`` maps
those codes to ours. ``app.gateways.mock_server`` is a local stand-in for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from app.gateways import BulkRecipient, GatewayUnavailable, SendResult
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
    ``text`` may be absent (some gateways omit it on the first callback); each
    of its inputs comes trimmed of surrounding whitespace.
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
        # Not echoed: the field may be any size (up to MAX_CONTENT_LENGTH).
        raise BadCallback("phoneNumber is not a phone number") from exc
    # MCC + MNC, 5 or 6 digits (ITU-T E.212); anything else is not worth keeping.
    network_code = (
        network if network.isascii() and network.isdigit() and len(network) <= 6 else None
    )
    # Each input without the spaces around it, as the engine reads it: a space
    # typed after one input ("1 ") must not make the next hop's history ("1 *2")
    # look like another session's.
    text = "*".join(part.strip() for part in text.split("*"))
    return UssdRequest(session_id, service_code, msisdn, network_code, text)


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


#: Failure reason of a number that the gateway's answer did not mention.
NO_ANSWER = "no answer for this number"


class AfricasTalkingSms:
    """Messages through the ``africastalking`` SDK: one POST per ``send_bulk``."""

    name = "africastalking"

    def __init__(
        self,
        username: str,
        api_key: str,
        *,
        base_url: str | None,
        sender_id: str | None,
        timeout: float = 30.0,
    ) -> None:
        import africastalking
        import requests

        self._service = africastalking.SMSService(username, api_key)
        if base_url:
            # The SDK has no setting for this; tests and benchmarks point it at the
            # local mock gateway (AT_SMS_BASE_URL=http://127.0.0.1:PORT/version1).
            self._service._baseUrl = base_url.rstrip("/")
        # The SDK takes any 2xx answer and opens a new connection per request; the
        # API answers a send with 201, and a bulk sender gains from a kept-alive session.
        self._session = requests.Session()
        self._service._make_request = self._post
        self._sender_id = sender_id
        self._timeout = timeout

    def send(self, msisdn: str, body: str) -> SendResult:
        """Send one message. Raises ``GatewayUnavailable`` when the request failed or
        the gateway asks to retry later (405 insufficient balance, 500, 501)."""
        [one] = self.send_bulk([msisdn], body)
        if one.status is None:
            raise GatewayUnavailable(f"{one.code} {one.failure_reason}")
        return SendResult(one.status, one.message_id, one.cost, one.failure_reason)

    def send_bulk(self, msisdns: Sequence[str], body: str) -> list[BulkRecipient]:
        """Send ``body`` to every number in one POST; one result per input number, in
        input order (see ``BulkRecipient``). A number the SDK deems invalid is
        ``REJECTED`` (403 ``InvalidPhoneNumber``) without reaching the gateway; one
        the answer leaves out gets status None, to be retried. Raises
        ``GatewayUnavailable`` for a timeout (``timeout`` seconds), a connection
        error, an HTTP status other than 201 or a malformed answer; its
        ``maybe_sent`` says whether the gateway may have taken the messages (a
        read timeout, an unreadable 201)."""
        from africastalking.Service import AfricasTalkingException, validate_phone
        from requests import JSONDecodeError, RequestException
        from requests.exceptions import ChunkedEncodingError, ReadTimeout

        # SMSService.send raises ValueError for the whole request when one number
        # fails validate_phone; applying the same test first keeps one bad number
        # from sinking the rest.
        valid = [m for m in msisdns if validate_phone(m)]
        answered: dict[str, list[BulkRecipient]] = {}
        if valid:
            try:
                answer: Any = self._service.send(
                    body, valid, sender_id=self._sender_id, timeout=self._timeout
                )
            except (AfricasTalkingException, RequestException) as exc:
                # The request went out and no answer came back (or a 201 that
                # could not be read): the gateway may have taken the messages.
                lost = isinstance(exc, ReadTimeout | ChunkedEncodingError | JSONDecodeError)
                raise GatewayUnavailable(str(exc)[:200], maybe_sent=lost) from exc
            for recipient in _recipients(answer):
                answered.setdefault(recipient.msisdn, []).append(recipient)
        results = []
        for msisdn in msisdns:
            if not validate_phone(msisdn):
                results.append(
                    BulkRecipient(msisdn, 403, SmsStatus.REJECTED, None, None, "InvalidPhoneNumber")
                )
            elif answered.get(msisdn):
                results.append(answered[msisdn].pop(0))
            else:
                results.append(BulkRecipient(msisdn, None, None, None, None, NO_ANSWER))
        return results

    def _post(
        self,
        url: str,
        method: str,
        headers: Mapping[str, str],
        data: Any,
        params: Any,
        callback: Any = None,
        timeout: Any = None,
    ) -> Any:
        """Stands in for the SDK's ``Service._make_request`` (same arguments)."""
        from africastalking.Service import AfricasTalkingException

        assert callback is None, "asynchronous sends are not used"
        res = self._session.request(
            method, url, headers=headers, data=data, params=params, timeout=timeout
        )
        if res.status_code != 201:
            raise AfricasTalkingException(f"HTTP {res.status_code}: {res.text[:200]}")
        return res.json()  # requests.JSONDecodeError is a RequestException


def _recipients(answer: Any) -> list[BulkRecipient]:
    """The ``SMSMessageData.Recipients`` of a send's answer; ``GatewayUnavailable``
    when it is not shaped as documented."""
    try:
        raw = answer["SMSMessageData"]["Recipients"]
        if not isinstance(raw, list):
            raise TypeError("Recipients is not a list")
        return [_recipient(r) for r in raw]
    except (TypeError, KeyError, ValueError) as exc:  # a 201 we cannot read: maybe taken
        raise GatewayUnavailable(
            f"unexpected answer: {str(answer)[:200]}", maybe_sent=True
        ) from exc


def _recipient(raw: Any) -> BulkRecipient:
    code = int(raw["statusCode"])
    status = STATUS.get(code, SmsStatus.REJECTED)
    return BulkRecipient(
        str(raw["number"]),
        code,
        status,
        _message_id(raw.get("messageId")),
        raw.get("cost"),
        None if status is SmsStatus.SENT else raw.get("status"),
    )


def _message_id(raw: object) -> str | None:
    # The gateway writes the string "None" where it assigned no id (a refused recipient).
    return None if raw in (None, "", "None") else str(raw)

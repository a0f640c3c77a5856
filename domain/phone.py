"""MSISDN normalisation to E.164 with ``phonenumbers`` (Google's libphonenumber)."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


class InvalidMsisdn(ValueError):
    """The text is not a possible phone number."""


@lru_cache(maxsize=65536)  # a session sends the same number on every hop
def normalise_msisdn(raw: str, default_region: str = "KE") -> str:
    """Return ``raw`` as E.164 (``"+254700000101"``).

    Accepts the forms gateways and people send: ``+254…``, ``254…`` (no plus),
    ``07…`` (national, read in ``default_region``, an ISO 3166-1 alpha-2 code), and
    ``" 254…"`` (a ``+`` that was form-decoded to a space).

    Raises ``InvalidMsisdn`` when it is not a possible number for its region.
    """
    text = raw.strip()
    if text[:3].upper() == "%2B":  # a "+" percent-encoded twice on the way
        text = "+" + text[3:]
    if not text or len(text) > 32:
        raise InvalidMsisdn(raw)
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith(("+", "0")) and digits and not digits.startswith("0"):
        # "254700000101": an international number whose "+" was lost on the way.
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidMsisdn(raw) from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidMsisdn(raw)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_msisdn(msisdn: str) -> str:
    """``"+254712345601"`` → ``"+2547******01"``: the country code and first digit,
    the last two; every digit for a number too short to mask."""
    if len(msisdn) < 8:
        return "*" * len(msisdn)
    return msisdn[:5] + "*" * (len(msisdn) - 7) + msisdn[-2:]

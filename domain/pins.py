"""PINs for USSD sign-in: a cadre's staff menu, a villager's "My household".

A PIN is 4 to 6 digits, kept only as an argon2id hash (``argon2-cffi``'s
defaults, the RFC 9106 low-memory profile). Five wrong PINs in a row lock the
account for 15 minutes; a right PIN clears the count. A PIN is never logged,
echoed on a screen or kept in session state: callers pass it in and drop it.
"""

from __future__ import annotations

import enum
import re
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from models.base import utcnow
from models.pin import PinProtected

MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
_PIN = re.compile(r"[0-9]{4,6}")
_hasher = PasswordHasher()


class PinCheck(enum.Enum):
    OK = "ok"
    WRONG = "wrong"  # counted; the account locks at the fifth in a row
    LOCKED = "locked"  # too many wrong PINs: try again after LOCK_FOR
    NOT_SET = "not_set"


def valid_pin(pin: str) -> bool:
    """True for 4 to 6 ASCII digits."""
    return bool(_PIN.fullmatch(pin))


def set_pin(account: PinProtected, pin: str) -> None:
    """Hash and store ``pin``, clearing failures and any lock. Raises
    ``ValueError`` for a PIN that is not 4–6 digits. Does not commit."""
    if not valid_pin(pin):
        raise ValueError("a PIN is 4 to 6 digits")
    account.pin_hash = _hasher.hash(pin)
    account.pin_failures = 0
    account.pin_locked_until = None


def check_pin(account: PinProtected, pin: str, *, attempt_key: str | None = None) -> PinCheck:
    """Check ``pin`` against ``account`` and count a failure. Does not commit.

    ``attempt_key`` names the attempt (the USSD effect key): the same attempt
    checked again (a repeated or racing callback) is not counted twice.
    """
    now = utcnow()
    if account.pin_locked_until is not None:
        if account.pin_locked_until > now:
            return PinCheck.LOCKED
        account.pin_locked_until, account.pin_failures = None, 0
    if account.pin_hash is None:
        return PinCheck.NOT_SET
    try:
        ok = valid_pin(pin) and _hasher.verify(account.pin_hash, pin)
    except (VerificationError, InvalidHashError):
        ok = False
    if ok:
        account.pin_failures, account.pin_failure_key = 0, None
        if _hasher.check_needs_rehash(account.pin_hash):
            account.pin_hash = _hasher.hash(pin)
        return PinCheck.OK
    if attempt_key is None or attempt_key != account.pin_failure_key:
        account.pin_failures = (account.pin_failures or 0) + 1
        account.pin_failure_key = attempt_key
    if account.pin_failures >= MAX_FAILURES:
        account.pin_locked_until = now + LOCK_FOR
        return PinCheck.LOCKED
    return PinCheck.WRONG

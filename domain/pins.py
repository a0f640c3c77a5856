"""PINs for USSD sign-in: a cadre's staff menu, a villager's "My household".

A PIN is 4 to 6 digits, kept only as an argon2id hash with OWASP's minimum
parameters (19 MiB, 2 iterations, 1 lane: the Password Storage Cheat Sheet's
first argon2id configuration), about 20 ms per check: a PIN is checked inside a
USSD hop, and a 4–6 digit PIN's strength is the lockout, not the hash. Five
wrong PINs in a row lock the account for 15 minutes; a right PIN clears the
count. A PIN is never logged, echoed on a screen or kept in session state:
callers pass it in and drop it. Sources: OWASP Password Storage Cheat Sheet
(argon2id parameters); RFC 9106 (Argon2).
"""

from __future__ import annotations

import enum
import re
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.pin import PinProtected

MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
_PIN = re.compile(r"[0-9]{4,6}")
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


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


#: Marks a PIN chosen but not yet confirmed (typed a second time).
PENDING = "pending:"


def has_pin(account: PinProtected) -> bool:
    """A confirmed PIN is set."""
    return account.pin_hash is not None and not account.pin_hash.startswith(PENDING)


def choose_pin(account: PinProtected, pin: str) -> None:
    """Keep ``pin``'s hash as chosen, to be confirmed by ``confirm_pin`` (the
    session never holds it). Raises ``ValueError`` for a PIN that is not 4–6
    digits. Does not commit."""
    if not valid_pin(pin):
        raise ValueError("a PIN is 4 to 6 digits")
    account.pin_hash = PENDING + _hasher.hash(pin)


def confirm_pin(account: PinProtected, pin: str) -> bool:
    """True, and the PIN set, when ``pin`` is the one chosen. Does not commit."""
    pending = account.pin_hash or ""
    if not pending.startswith(PENDING):
        return False
    try:
        same = valid_pin(pin) and _hasher.verify(pending[len(PENDING) :], pin)
    except (VerificationError, InvalidHashError):
        same = False
    if same:
        set_pin(account, pin)
    return same


def check_pin(
    db: Session, account: PinProtected, pin: str, *, attempt_key: str | None = None
) -> PinCheck:
    """Check ``pin`` against ``account`` (a mapped row) and count a failure. Does
    not commit.

    The failure count is one atomic ``UPDATE … SET pin_failures = pin_failures + 1``,
    so wrong PINs racing from several sessions all count. ``attempt_key`` names
    the attempt (the USSD effect key): the same attempt checked again (a repeated
    callback) is not counted twice.
    """
    now = utcnow()
    if account.pin_locked_until is not None:
        if account.pin_locked_until > now:
            return PinCheck.LOCKED
        account.pin_locked_until, account.pin_failures = None, 0
    if account.pin_hash is None or not has_pin(account):
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
    db.flush()
    table = type(account)
    key = attempt_key or ""
    counted = db.execute(
        update(table)
        .where(
            table.id == account.id,  # type: ignore[attr-defined]
            or_(table.pin_failure_key.is_(None), table.pin_failure_key != key),
        )
        .values(pin_failures=table.pin_failures + 1, pin_failure_key=key)
        .returning(table.pin_failures)
    ).scalar()
    failures = counted if counted is not None else account.pin_failures
    if failures >= MAX_FAILURES:
        db.execute(
            update(table)
            .where(table.id == account.id)  # type: ignore[attr-defined]
            .values(pin_locked_until=now + LOCK_FOR)
        )
        db.expire(account)
        return PinCheck.LOCKED
    db.expire(account)
    return PinCheck.WRONG

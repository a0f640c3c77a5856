"""Console users: accounts, passwords, sign-in with lockout, and what a user may see.

Passwords follow NIST SP 800-63B §5.1.1.2 (memorized secrets): a minimum length
rather than composition rules, and a blocklist of common choices. They are kept
only as argon2id hashes with the parameters of ``domain.pins`` (OWASP Password
Storage Cheat Sheet's first argon2id configuration: 19 MiB, 2 iterations, 1
lane). Five failed sign-ins in a row lock an account for 15 minutes (the same
rule as PINs); a right password clears the count. A password is never logged or
stored in clear: callers pass it in and drop it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session

from domain.campaigns import areas_under
from models import Area, ConsoleRole, ConsoleUser, Organisation
from models.base import UtcDateTime, utcnow

MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 12
MAX_PASSWORD = 128  # argon2 takes any length; this bounds the work one request can ask for
USERNAME = re.compile(r"[a-z0-9._-]{3,40}")
# Twenty passwords that head the yearly most-common lists (NordPass, SplashData; from
# those lists in general, not one edition). Most are shorter than MIN_PASSWORD: the
# list still holds if that minimum is lowered.
COMMON_PASSWORDS = frozenset(
    {
        "123456",
        "123456789",
        "12345678",
        "password",
        "qwerty123",
        "qwerty1",
        "111111",
        "12345",
        "secret",
        "123123",
        "1234567890",
        "1234567",
        "000000",
        "qwerty",
        "abc123",
        "password1",
        "iloveyou",
        "11111111",
        "dragon",
        "monkey",
    }
)

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_dummy_hash: str | None = None


class ConsoleUserError(ValueError):
    """A user that cannot be created or changed as asked (the message says why)."""


class Refusal(enum.StrEnum):
    """Why ``authenticate`` refused a sign-in."""

    UNKNOWN = "unknown"  # no such username
    WRONG = "wrong"  # wrong password; counted towards the lock
    LOCKED = "locked"  # MAX_FAILURES in a row: refused until locked_until, password unchecked
    INACTIVE = "inactive"  # right password, but the account is deactivated


def password_problem(password: str, username: str = "") -> str | None:
    """Why ``password`` is refused for ``username``, in plain words; None when it
    is acceptable: MIN_PASSWORD to MAX_PASSWORD characters, not one character
    repeated, not the username, not a common password."""
    if len(password) < MIN_PASSWORD:
        return f"a password is at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"a password is at most {MAX_PASSWORD} characters"
    if len(set(password)) == 1:
        return "a password is not one character repeated"
    if username and password.casefold() == username.casefold():
        return "a password is not the username"
    if password.casefold() in COMMON_PASSWORDS:
        return "that password is one of the most common: choose another"
    return None


def normalise_username(username: str) -> str:
    """``username`` stripped and lower-cased; raises ``ConsoleUserError`` unless
    it is 3 to 40 of ``a-z 0-9 . _ -``."""
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise ConsoleUserError("a username is 3 to 40 characters: a-z, 0-9, '.', '_' or '-'")
    return name


def set_password(user: ConsoleUser, password: str) -> None:
    """Hash and store ``password``; clear failures and any lock, and end the
    user's other sessions (``credential_stamp`` changes). Raises
    ``ConsoleUserError`` for a password ``password_problem`` refuses. Does not commit."""
    problem = password_problem(password, user.username or "")
    if problem:
        raise ConsoleUserError(problem)
    user.password_hash = _hasher.hash(password)
    user.password_changed_at = utcnow()
    user.failed_logins, user.locked_until = 0, None


def create_user(
    db: Session,
    *,
    username: str,
    name: str,
    password: str,
    role: ConsoleRole,
    areas: Sequence[Area] = (),
    organisation: Organisation | None = None,
) -> ConsoleUser:
    """Create an active user. A supervisor needs at least one area (any level:
    they see it and everything below); admins and operators see every area and
    take none. An editor needs an ``organisation`` (they manage its articles);
    no other role takes one. Raises ``ConsoleUserError`` (bad username, name,
    password, areas or organisation; the username is taken). Does not commit."""
    username, name = check_new_user(
        db, username=username, name=name, role=role, areas=areas, organisation=organisation
    )
    user = ConsoleUser(username=username, name=name, role=role, active=True, failed_logins=0)
    user.organisation = organisation
    set_password(user, password)
    user.areas = list(dict.fromkeys(areas))
    db.add(user)
    db.flush()
    return user


def check_new_user(
    db: Session,
    *,
    username: str,
    name: str,
    role: ConsoleRole,
    areas: Sequence[Area],
    organisation: Organisation | None = None,
) -> tuple[str, str]:
    """The username and name as they would be stored, when ``create_user`` would
    accept everything but the password (so a command can ask for the password
    last); raises ``ConsoleUserError`` otherwise."""
    username = normalise_username(username)
    name = " ".join(name.split())
    if not 1 <= len(name) <= 80:
        raise ConsoleUserError("a name is 1 to 80 characters")
    if role is ConsoleRole.SUPERVISOR and not areas:
        raise ConsoleUserError("a supervisor needs at least one area")
    if role is not ConsoleRole.SUPERVISOR and areas:
        raise ConsoleUserError(f"an {role.value} sees every area: only supervisors take areas")
    if role is ConsoleRole.EDITOR and organisation is None:
        raise ConsoleUserError("an editor needs an organisation (--organisation)")
    if role is not ConsoleRole.EDITOR and organisation is not None:
        article = "an" if role.value[0] in "aeiou" else "a"
        raise ConsoleUserError(f"{article} {role.value} takes no organisation: only editors do")
    if find_user(db, username) is not None:
        raise ConsoleUserError(f"user {username!r} exists")
    return username, name


def find_user(db: Session, username: str) -> ConsoleUser | None:
    """The user with this username (compared lower-case), or None."""
    name = username.strip().lower()
    return db.scalars(select(ConsoleUser).where(ConsoleUser.username == name)).one_or_none()


def get_user(db: Session, username: str) -> ConsoleUser:
    """Like ``find_user``, but raises ``ConsoleUserError`` when there is none."""
    user = find_user(db, username)
    if user is None:
        raise ConsoleUserError(f"no user {username.strip().lower()!r}")
    return user


def set_active(db: Session, username: str, active: bool) -> ConsoleUser:
    """Activate or deactivate a user. A deactivated user's sessions end at their
    next request. Raises ``ConsoleUserError``. Does not commit."""
    user = get_user(db, username)
    if user.active and not active:
        # Sessions carry the credential stamp: a new one ends them for good,
        # even if the user is activated again before they expire.
        user.password_changed_at = utcnow()
    user.active = active
    db.flush()
    return user


def unlock(db: Session, username: str) -> ConsoleUser:
    """Clear a user's failed sign-ins and lock. Raises ``ConsoleUserError``. Does not commit."""
    user = get_user(db, username)
    user.failed_logins, user.locked_until = 0, None
    db.flush()
    return user


def authenticate(db: Session, username: str, password: str, now: datetime) -> ConsoleUser | Refusal:
    """The user, when ``password`` is theirs and the account is active and not
    locked (failures cleared, ``last_login_at`` set); else why not. Does not commit.

    Every answer costs one argon2 verification, for an unknown username or a
    locked account too (against a dummy hash), so timing tells little about
    which usernames exist. A wrong password is counted by one atomic ``UPDATE``
    (``failed_logins + 1``, and the lock when that reaches MAX_FAILURES: the
    answer is then LOCKED), so attempts racing from several processes all count.
    """
    # A NUL is in no username (and no PostgreSQL text): such a name is unknown.
    user = find_user(db, username) if len(username) <= 80 and "\x00" not in username else None
    if user is None:
        _verify(_dummy(), password)
        return Refusal.UNKNOWN
    if user.locked_until is not None:
        if user.locked_until > now:
            _verify(_dummy(), password)
            return Refusal.LOCKED
        user.locked_until, user.failed_logins = None, 0  # the lock is over: a fresh count
    if not _verify(user.password_hash, password):
        db.flush()
        failures = ConsoleUser.failed_logins + 1
        lock_at = bindparam("lock_at", now + LOCK_FOR, type_=UtcDateTime())
        counted = db.execute(
            update(ConsoleUser)
            .where(ConsoleUser.id == user.id)
            .values(
                failed_logins=failures,
                locked_until=case(
                    (failures >= MAX_FAILURES, lock_at), else_=ConsoleUser.locked_until
                ),
            )
            .returning(ConsoleUser.failed_logins)
        ).scalar_one()
        db.expire(user)
        return Refusal.LOCKED if counted >= MAX_FAILURES else Refusal.WRONG
    if not user.active:
        return Refusal.INACTIVE
    user.failed_logins, user.last_login_at = 0, now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    db.flush()
    return user


def credential_stamp(user: ConsoleUser) -> str:
    """A value that changes whenever the user's password does (microseconds of
    ``password_changed_at``): a session carries it, and one that carries an old
    stamp is no longer signed in."""
    return str((user.password_changed_at - _EPOCH) // timedelta(microseconds=1))


def visible_areas(db: Session, user: ConsoleUser) -> list[int] | None:
    """The ids of the areas ``user`` may see: None for an admin or an operator
    (every area); for a supervisor their areas and every area below them (an
    empty list when they have none: they see nothing)."""
    if user.role is not ConsoleRole.SUPERVISOR:
        return None
    return areas_under(db, [a.id for a in user.areas])


def _verify(password_hash: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not a password: for unknown usernames")
    return _dummy_hash

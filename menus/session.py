"""Per-session USSD state in Redis, keyed by the gateway's ``sessionId``.

The state is one small JSON document. Saves are compare-and-set on ``n`` (the
number of inputs taken), in one Lua script, so two copies of the same callback
racing each other cannot both advance the session: the loser reloads and
answers what the winner answered. A returning caller's subscriber id and
language are cached beside it, so a session never needs the database unless
something is written there.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import redis

KEY_PREFIX = "ngazi:ussd:session:"
#: Cached ``"<subscriber id>:<language>"`` per MSISDN, so a returning caller's
#: session starts without touching the database.
CALLER_PREFIX = "ngazi:ussd:caller:"
CALLER_TTL = 7 * 24 * 3600
#: When this Redis started holding our data (set once; gone with the data).
SINCE_KEY = "ngazi:ussd:since"

# The session is one string, "<n>|<JSON>", so a load is a plain MGET and the
# compare-and-set reads n without decoding JSON.
# KEYS[1] session, KEYS[2] caller; ARGV: expected n (-1: the key must not exist),
# new value, session TTL s, caller value ("" to leave it), caller TTL s.
_CAS = """
local cur = redis.call('GET', KEYS[1])
local expected = tonumber(ARGV[1])
if cur then
  if tonumber(string.sub(cur, 1, string.find(cur, '|', 1, true) - 1)) ~= expected then
    return 0
  end
elseif expected ~= -1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[2], ARGV[4], 'EX', tonumber(ARGV[5]))
end
return 1
"""


class KnownCaller(NamedTuple):
    subscriber_id: int
    language: str | None  # None until the caller picks one


class Loaded(NamedTuple):
    state: SessionState | None
    n: int  # the stored n, -1 when there is no state
    caller: KnownCaller | None  # from the cache; None when not cached
    state_may_be_lost: bool  # this Redis holds our data for less than a session's TTL


@dataclass
class SessionState:
    """What the service remembers of a session between callbacks.

    ``text`` is the gateway's input history that produced ``answer``, with
    secret inputs (PINs) replaced by ``#``; ``n`` the number of inputs in it.
    """

    msisdn: str
    subscriber_id: int
    language: str
    menu: str
    state: str
    n: int = 0
    text: str = ""
    offset: int = 0  # where the page shown starts, in characters of content
    keys: list[str] = field(default_factory=list)  # the choices the page shown offers
    secret: list[int] = field(default_factory=list)  # inputs kept as "#" in ``text`` (PINs)
    data: dict[str, Any] = field(default_factory=dict)
    answer: str = ""


class SessionStore:
    """Session state, and the caller cache that rides along with it: one round
    trip to load (MGET), one to save (a Lua script)."""

    def __init__(self, connect: Callable[[], redis.Redis], ttl_seconds: int) -> None:
        """``connect()`` makes a client; each thread gets its own connection."""
        self._connect = connect
        self._local = threading.local()
        self._ttl = ttl_seconds
        self._cas_sha = hashlib.sha1(_CAS.encode()).hexdigest()

    def _connection(self) -> Any:
        """This thread's connection, checked out of its own client once and kept:
        a call is then a write and a read, without the pool and retry layers
        (half the client's CPU per call). A broken connection is given back and
        the next call checks out another, which connects afresh (behind Sentinel:
        to whichever server is the primary now); the callback that saw it break
        answers "busy"."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            pool = getattr(self._local, "pool", None)
            if pool is None:
                pool = self._local.pool = self._connect().connection_pool
            conn = self._local.conn = pool.get_connection()
        return conn

    def _call(self, *args: Any) -> Any:
        conn = self._connection()
        try:
            conn.send_command(*args)
            return conn.read_response()
        except redis.ResponseError:
            raise  # an error reply: the connection is still in step
        except BaseException:
            # Anything else may leave a reply unread: start afresh.
            conn.disconnect()
            self._local.conn = None
            self._local.pool.release(conn)
            raise

    def _script(self, sha: str, source: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return self._call("EVALSHA", sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:  # a restarted or new Redis: load it once
            self._call("SCRIPT", "LOAD", source)
            return self._call("EVALSHA", sha, len(keys), *keys, *args)

    def load(self, session_id: str, msisdn: str) -> Loaded:
        """The session's state, the cached caller, and whether a session's state
        could have been lost: when the marker of this Redis's data is younger than a
        session can live, a first callback that carries inputs may belong to a session
        that started before (a restart, a failover, a flush)."""
        now = time.time()
        raw, cached, since = self._call(
            "MGET", KEY_PREFIX + session_id, CALLER_PREFIX + msisdn, SINCE_KEY
        )
        if since is None:  # first use of this Redis, or its data is gone
            self._call("SET", SINCE_KEY, now, "NX")
        state = _decode(raw) if raw is not None else None
        if raw is not None and state is None:  # unreadable: drop it and start again
            self._call("DEL", KEY_PREFIX + session_id)
        caller = None
        if cached is not None:
            sid, _, lang = cached.decode().partition(":")
            caller = KnownCaller(int(sid), lang or None)
        # Lost: this Redis is younger than a session, or the state was unreadable.
        lost = since is None or now - float(since) < self._ttl or (raw is not None and not state)
        return Loaded(state, state.n if state else -1, caller, lost)

    def save(
        self,
        session_id: str,
        state: SessionState,
        expected_n: int,
        *,
        caller: KnownCaller | None,
    ) -> bool:
        """Store ``state`` if the stored ``n`` is still ``expected_n`` (False if another
        callback got there first), and refresh the caller cache with ``caller``."""
        # vars(), not dataclasses.asdict(): no deep copy of a document we only serialise.
        doc = json.dumps(vars(state), ensure_ascii=False, separators=(",", ":"))
        cached = f"{caller.subscriber_id}:{caller.language or ''}" if caller else ""
        ok = self._script(
            self._cas_sha,
            _CAS,
            [KEY_PREFIX + session_id, CALLER_PREFIX + state.msisdn],
            [expected_n, f"{state.n}|{doc}", self._ttl, cached, CALLER_TTL],
        )
        return bool(ok)


_FIELDS = frozenset(SessionState.__dataclass_fields__)


def _decode(raw: bytes) -> SessionState | None:
    """The stored state, or None when it cannot be read (written by another version
    of the service, say): the caller then restarts at home rather than getting an
    error."""
    try:
        doc = json.loads(raw.partition(b"|")[2])
        return SessionState(**{k: v for k, v in doc.items() if k in _FIELDS})
    except (ValueError, TypeError, AttributeError):
        return None

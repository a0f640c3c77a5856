"""Per-session USSD state in Redis, keyed by the gateway's ``sessionId``.

The state is one small JSON document. Saves are compare-and-set on ``n`` (the
number of inputs taken), in one Lua script, so two copies of the same callback
racing each other cannot both advance the session: the loser reloads and
answers what the winner answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis

KEY_PREFIX = "ngazi:ussd:session:"

# KEYS[1] session key; ARGV: expected n (-1: key must not exist), new JSON, TTL s.
_CAS = """
local cur = redis.call('HGET', KEYS[1], 'n')
local expected = tonumber(ARGV[1])
if (cur == false and expected ~= -1) or (cur ~= false and tonumber(cur) ~= expected) then
  return 0
end
redis.call('HSET', KEYS[1], 'n', ARGV[2], 'doc', ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""


@dataclass
class SessionState:
    """What the service remembers of a session between callbacks.

    ``text`` is the gateway's input history that produced ``answer``;
    ``n`` the number of inputs in it.
    """

    msisdn: str
    subscriber_id: int
    language: str
    menu: str
    state: str
    n: int = 0
    text: str = ""
    offset: int = 0  # where the page shown starts, in characters of content
    data: dict[str, Any] = field(default_factory=dict)
    answer: str = ""


class SessionStore:
    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self._redis = client
        self._ttl = ttl_seconds
        self._cas = client.register_script(_CAS)

    def load(self, session_id: str) -> tuple[SessionState | None, int]:
        """Return the state and its ``n`` as stored (-1 when there is none)."""
        raw = self._redis.hget(KEY_PREFIX + session_id, "doc")
        if raw is None:
            return None, -1
        doc = json.loads(raw)
        return SessionState(**doc), int(doc["n"])

    def save(self, session_id: str, state: SessionState, expected_n: int) -> bool:
        """Store ``state`` if the stored ``n`` is still ``expected_n``; False if another
        callback got there first."""
        # vars(), not dataclasses.asdict(): no deep copy of a document we only serialise.
        doc = json.dumps(vars(state), ensure_ascii=False, separators=(",", ":"))
        ok = self._cas(keys=[KEY_PREFIX + session_id], args=[expected_n, state.n, doc, self._ttl])
        return bool(ok)

"""Inbound SMS held in Redis while the database is away, stored when it returns.

A message is stored before anything reads it (``domain.inbound.receive``). When
the database cannot take it, the webhook appends it, as JSON, to a Redis list
(``HOLD_KEY``) and answers 200: the message is kept, and the gateway does not
retry it for hours. ``release`` moves held messages into the database in arrival
order, one at a time, and stops at the first database error (the rest wait for
the next call). The campaigns' one-minute tick and ``flask sms retry-inbound``
call it; each message released is then processed like any other.

A message is removed from the list only after it is stored, and storing is
idempotent (the gateway's id is unique), so a crash in between stores it once.
One releaser at a time (a lock key): two would each store the list's head and
then each remove one, losing the second message. If Redis is also away the
webhook answers 503 and the gateway retries.
"""

from __future__ import annotations

import json
import logging

import redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from domain.inbound import InboundMessage, Received, receive
from models import InboundStatus

log = logging.getLogger(__name__)

HOLD_KEY = "ngazi:inbound:held"
LOCK_KEY = "ngazi:inbound:releasing"
LOCK_SECONDS = 120


def hold(client: redis.Redis, message: InboundMessage, status: InboundStatus) -> int:
    """Append ``message`` (to be stored with ``status``) to the held list; returns
    how many are held. Raises ``redis.RedisError`` when Redis is away too."""
    record = {"message": message._asdict(), "status": status.value}
    return int(client.rpush(HOLD_KEY, json.dumps(record, ensure_ascii=False)))


def held(client: redis.Redis) -> int:
    """How many messages wait in Redis for the database."""
    return int(client.llen(HOLD_KEY))


def release(db: Session, client: redis.Redis, limit: int = 10_000) -> list[Received]:
    """Store up to ``limit`` held messages, oldest first; returns what was stored
    (``Received.created`` False for one stored already). Stops at the first database
    error, leaving that message and the rest held; returns ``[]`` when another
    process is releasing. A record that is not a message is dropped and logged."""
    if not client.set(LOCK_KEY, "1", nx=True, ex=LOCK_SECONDS):
        return []
    stored: list[Received] = []
    try:
        for _ in range(limit):
            raw = client.lindex(HOLD_KEY, 0)
            if raw is None:
                break
            try:
                record = json.loads(raw)
                message = InboundMessage(**record["message"])
                status = InboundStatus(record["status"])
            except (ValueError, KeyError, TypeError):
                log.error("inbound hold: dropping a record that is not a message")
                client.lpop(HOLD_KEY)
                continue
            try:
                stored.append(receive(db, message, status))
            except SQLAlchemyError:
                db.rollback()
                log.warning("inbound hold: the database is still away; %d held", held(client))
                break
            client.lpop(HOLD_KEY)
    finally:
        client.delete(LOCK_KEY)
    return stored

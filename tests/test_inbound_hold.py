"""Inbound SMS while the database is away: held in Redis (200, nothing lost),
stored and answered once it returns; 503 only when Redis is away too."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from sqlalchemy import select

from app import create_app
from app.db import db_session
from app.sms import release_held
from domain import inbound_hold
from models import InboundSms, InboundStatus, OutboundSms
from tests.jobs import run_jobs

DOWN = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # nothing listens on port 1


def down_app(app: Flask, base_config: dict[str, Any], **settings: str) -> Flask:
    """The same Redis as ``app``, a database that is down."""
    down = create_app({**base_config, "DATABASE_URL": DOWN, **settings})
    if "REDIS_URL" not in settings:
        down.extensions["ngazi_redis"] = app.extensions["ngazi_redis"]
    return down


def post(app: Flask, gateway_id: str, text: str = "HELP") -> tuple[int, str]:
    form = {"from": "+254700000301", "to": "21234", "text": text, "id": gateway_id, "date": "d"}
    resp = app.test_client().post("/sms/inbound", data=form)
    return resp.status_code, resp.get_data(as_text=True)


def test_held_while_the_database_is_away_then_stored_and_answered(
    app: Flask, base_config: dict[str, Any]
) -> None:
    redis = app.extensions["ngazi_redis"]
    down = down_app(app, base_config)
    started = time.monotonic()
    assert post(down, "held-1", "SELL maize 50kg 30") == (200, "OK")
    assert time.monotonic() - started < 1.0  # the gateway is answered at once
    assert post(down, "held-2") == (200, "OK")
    assert post(down, "held-1", "SELL maize 50kg 30") == (200, "OK")  # the gateway retrying
    assert inbound_hold.held(redis) == 3
    with app.app_context():
        assert db_session().scalars(select(InboundSms)).all() == []
        # Still away: nothing moves, nothing is lost.
    with down.app_context():
        assert release_held() == 0
    assert inbound_hold.held(redis) == 3
    with app.app_context():  # the database is back
        assert release_held() == 3  # one of them a repeat of an id already stored
    assert inbound_hold.held(redis) == 0
    run_jobs(app)
    with app.app_context():
        db = db_session()
        rows = db.scalars(select(InboundSms).order_by(InboundSms.id)).all()
        assert [(r.gateway_id, r.text, r.status) for r in rows] == [
            ("held-1", "SELL maize 50kg 30", InboundStatus.PROCESSED),
            ("held-2", "HELP", InboundStatus.PROCESSED),
        ]
        replies = db.scalars(select(OutboundSms.msisdn)).all()
        assert replies == ["+254700000301", "+254700000301"]  # each answered once


def test_with_redis_away_too_the_gateway_is_asked_to_retry(
    app: Flask, base_config: dict[str, Any]
) -> None:
    both = down_app(app, base_config, REDIS_URL="redis://127.0.0.1:1/0")
    assert post(both, "lost-1") == (503, "Service busy, please try again.")


def test_a_record_that_is_not_a_message_is_dropped(app: Flask) -> None:
    redis = app.extensions["ngazi_redis"]
    redis.rpush(inbound_hold.HOLD_KEY, b"not json", b'{"message": {"x": 1}, "status": "received"}')
    with app.app_context():
        assert release_held() == 0
    assert inbound_hold.held(redis) == 0


def test_one_releaser_at_a_time(app: Flask, base_config: dict[str, Any]) -> None:
    redis = app.extensions["ngazi_redis"]
    post(down_app(app, base_config), "locked-1")
    redis.set(inbound_hold.LOCK_KEY, "1", ex=60)  # another worker is releasing
    with app.app_context():
        assert release_held() == 0
    assert inbound_hold.held(redis) == 1
    redis.delete(inbound_hold.LOCK_KEY)
    with app.app_context():
        assert release_held() == 1

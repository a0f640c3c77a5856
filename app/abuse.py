"""Per-MSISDN limits on the gateway's callbacks, so one number's flood cannot
starve everyone else.

``USSD_MSISDN_LIMIT`` bounds the USSD hops one number may make, and
``SMS_MSISDN_LIMIT`` the inbound SMS it may send, each in the ``limits``
library's notation (``"60 per minute;1200 per hour"``: every part must hold).
Counts live in the app's Redis (fixed windows: one ``INCR`` per hop and
window), shared by every web node.

Past its limit a number gets a polite ``END`` for USSD. An inbound SMS is still
stored (nothing is lost) but marked ``throttled``: not acted on, no reply.
When Redis cannot be read the limit is not applied (fail open): the sessions
need Redis anyway, and the hop is answered "busy" there.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app
from limits import RateLimitItem, parse_many

from app.redis_store import get_redis

log = logging.getLogger(__name__)


def parse_limit(text: str, setting: str) -> list[RateLimitItem]:
    """``"60 per minute;1200 per hour"`` → the limits; ``""`` or ``"0"`` → none.
    Raises ``ValueError`` naming ``setting`` for anything else."""
    if text.strip() in ("", "0"):
        return []
    try:
        return list(parse_many(text))
    except ValueError as exc:
        raise ValueError(f"{setting}: {text!r} is not a rate limit like '60 per minute'") from exc


def _limiter() -> Any:
    limiter = current_app.extensions.get("ngazi_msisdn_limiter")
    if limiter is None:
        from limits.storage import RedisStorage
        from limits.strategies import FixedWindowRateLimiter

        storage = RedisStorage("redis://", connection_pool=get_redis().connection_pool)
        limiter = current_app.extensions["ngazi_msisdn_limiter"] = FixedWindowRateLimiter(storage)
    return limiter


def allow(kind: str, msisdn: str) -> bool:
    """Count one ``kind`` (``"ussd"`` or ``"sms"``) callback from ``msisdn``; False
    when that takes the number past any part of its limit."""
    items: list[RateLimitItem] = current_app.extensions[f"ngazi_{kind}_limit"]
    if not items:
        return True
    try:
        limiter = _limiter()
        # Every window counts the hit, so a number flooding the minute limit
        # also uses up its hour.
        return all([limiter.hit(item, "ngazi", kind, msisdn) for item in items])
    except Exception:
        log.exception("per-number %s limit unavailable: not applied", kind)
        return True


def init_app(app: Flask) -> None:
    """Parse the settings once; raises ``ValueError`` for a malformed one."""
    app.extensions["ngazi_ussd_limit"] = parse_limit(
        app.config["USSD_MSISDN_LIMIT"], "USSD_MSISDN_LIMIT"
    )
    app.extensions["ngazi_sms_limit"] = parse_limit(
        app.config["SMS_MSISDN_LIMIT"], "SMS_MSISDN_LIMIT"
    )

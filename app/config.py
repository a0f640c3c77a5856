"""Settings, read from environment variables only.

Every setting is listed in the README with its default. ``create_app(config)`` lets
tests override any of them by name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The secret key when SECRET_KEY is unset: fine on a laptop, never in production
#: (anyone who knows it can forge a console session).
DEV_SECRET_KEY = "dev-only-not-secret"
#: The callbacks' token when WEBHOOK_TOKEN is unset: for a laptop, never for a gateway.
DEV_WEBHOOK_TOKEN = "dev-only-webhook-token"


def _int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: {value} is below {minimum}")
    return value


def from_env() -> dict[str, Any]:
    """Return the settings as a dict, reading ``os.environ`` now.

    Raises ``ValueError`` when a numeric setting is not an integer.
    """
    webhook_token = os.environ.get("WEBHOOK_TOKEN") or DEV_WEBHOOK_TOKEN
    instance = Path(os.environ.get("NGAZI_INSTANCE_DIR", ROOT / "instance"))
    return {
        "INSTANCE_DIR": str(instance),
        # Unset means the embedded default: SQLite under instance/.
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'ngazi.db'}",
        # A streaming replica for the console's read-only pages (app.db.read_session);
        # unset: they read the primary.
        "DATABASE_REPLICA_URL": os.environ.get("DATABASE_REPLICA_URL", ""),
        # Unset means the embedded default: in-process fakeredis, RQ jobs run inline.
        # redis://… for one server, redis+sentinel://… behind Sentinel (app.redis_store).
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "USSD_SERVICE_CODE": os.environ.get("USSD_SERVICE_CODE", "*384*1234#"),
        # Gateway drops a session after 180 s; keep state a while longer so a late
        # retry still finds it.
        "USSD_SESSION_TTL": _int("USSD_SESSION_TTL", 300),
        # Screen limits, prefix included: GSM 03.38 septets / UCS-2 characters.
        "USSD_GSM7_LIMIT": _int("USSD_GSM7_LIMIT", 160),
        "USSD_UCS2_LIMIT": _int("USSD_UCS2_LIMIT", 70),
        # Replace characters outside GSM-7 by lookalikes (ê → e) when that keeps a
        # screen in GSM-7: a French screen then holds 160 characters, not 70.
        "USSD_GSM7_FOLD": os.environ.get("USSD_GSM7_FOLD", "1") == "1",
        # Input longer than this is absurd for a USSD string (the air interface
        # carries at most 182 characters); answer END instead of parsing it.
        "USSD_MAX_TEXT": _int("USSD_MAX_TEXT", 1000),
        "DEFAULT_REGION": os.environ.get("DEFAULT_REGION", "KE"),
        "DEFAULT_LANGUAGE": os.environ.get("DEFAULT_LANGUAGE", "en"),
        "CONTENT_CACHE_SECONDS": _int("CONTENT_CACHE_SECONDS", 30),
        "AT_USERNAME": os.environ.get("AT_USERNAME", ""),
        "AT_API_KEY": os.environ.get("AT_API_KEY", ""),
        "AT_SMS_BASE_URL": os.environ.get("AT_SMS_BASE_URL", ""),
        "AT_SENDER_ID": os.environ.get("AT_SENDER_ID", ""),
        # Seconds to wait for the gateway's answer to one bulk send.
        "AT_SMS_TIMEOUT": _int("AT_SMS_TIMEOUT", 30),
        # Campaigns: numbers per bulk request (and per batch job); messages per
        # second across all workers (what the gateway account allows); the price of
        # one SMS part, for estimates; how long a claimed message may wait for the
        # gateway's answer before it is reconciled; default quiet hours (local time);
        # who is told by SMS when a campaign pauses (insufficient balance).
        "SMS_BATCH_SIZE": _int("SMS_BATCH_SIZE", 500),
        "SMS_RATE": _int("SMS_RATE", 100),
        "SMS_PRICE_PER_PART": os.environ.get("SMS_PRICE_PER_PART", "KES 0.80"),
        "CAMPAIGN_CLAIM_TIMEOUT": _int("CAMPAIGN_CLAIM_TIMEOUT", 900),
        # A sending campaign with nothing done for this long has lost its jobs
        # (Redis flushed, workers killed): the tick enqueues them again.
        "CAMPAIGN_STALL_SECONDS": _int("CAMPAIGN_STALL_SECONDS", 120),
        "CAMPAIGN_QUIET_HOURS": os.environ.get("CAMPAIGN_QUIET_HOURS", "20:00-07:00"),
        "OPERATOR_MSISDN": os.environ.get("OPERATOR_MSISDN", ""),
        # Days a produce offer stays open unless its farmer says SOLD or CANCEL.
        "OFFER_DAYS": _int("OFFER_DAYS", 14),
        # Sellers' numbers one buyer may ask for in 24 hours (Market → Buy →
        # Contact seller): enough to buy, too few to harvest numbers.
        "MARKET_CONTACTS_PER_DAY": _int("MARKET_CONTACTS_PER_DAY", 10),
        # RQ workers run jobs in their own process (0) or in a forked child per job (1).
        "WORKER_FORK": os.environ.get("WORKER_FORK", "0") == "1",
        # A gateway callback is a few hundred bytes: refuse bodies past this (413).
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 64 * 1024),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or DEV_SECRET_KEY,
        # The console's sign-in session ends after this long without a request.
        "CONSOLE_SESSION_MINUTES": _int("CONSOLE_SESSION_MINUTES", 30),
        # Send the console's cookie over HTTPS only: set to 1 behind TLS.
        "CONSOLE_SECURE_COOKIES": os.environ.get("CONSOLE_SECURE_COOKIES", "0") == "1",
        # Failed console sign-ins allowed per client address ("limits" notation).
        "CONSOLE_LOGIN_LIMIT": os.environ.get("CONSOLE_LOGIN_LIMIT", "20 per 15 minutes"),
        # Bearer token Prometheus sends to read /metrics; unset: local clients only.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        # The secret every gateway callback URL carries as ?token= (app/webhook_auth.py).
        "WEBHOOK_TOKEN": webhook_token,
        # Source networks allowed to call the callbacks (comma-separated); empty: any.
        "WEBHOOK_ALLOW_CIDRS": os.environ.get("WEBHOOK_ALLOW_CIDRS", ""),
        # Proxies (networks) whose X-Forwarded-For is believed: nginx, the load balancer.
        "TRUSTED_PROXIES": os.environ.get("TRUSTED_PROXIES", ""),
        # The phone simulator (/simulator) speaks for any number and shows any
        # number's SMS: on by default only with the development token.
        "SIMULATOR": os.environ.get("SIMULATOR", "1" if webhook_token == DEV_WEBHOOK_TOKEN else "0")
        == "1",
        # What one number may send ("limits" notation; "0": no limit): USSD hops,
        # and inbound SMS (kept but not acted on past it). See app/abuse.py.
        "USSD_MSISDN_LIMIT": os.environ.get("USSD_MSISDN_LIMIT", "60 per minute"),
        "SMS_MSISDN_LIMIT": os.environ.get("SMS_MSISDN_LIMIT", "20 per minute;500 per day"),
        "BENCH_ENDPOINT": os.environ.get("NGAZI_BENCH_ENDPOINT", "") == "1",
        # Retention (docs/privacy.md): days raw SMS are kept (inbound rows deleted,
        # outbound texts removed), and days audit events are kept (0: for ever).
        # Applied by `flask privacy purge` and once a day by the workers.
        "RAW_SMS_RETENTION_DAYS": _int("RAW_SMS_RETENTION_DAYS", 90, minimum=0),
        "AUDIT_RETENTION_DAYS": _int("AUDIT_RETENTION_DAYS", 0, minimum=0),
    }

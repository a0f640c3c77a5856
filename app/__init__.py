"""Ngazi's Flask application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class NoCookieForGateways(SecureCookieSessionInterface):
    """No cookie session on gateway callbacks (``/ussd``, ``/sms/…``): the gateway
    sends none, and opening one costs a signing serializer on every hop."""

    GATEWAY_PATHS = ("/ussd", "/sms/")

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(self.GATEWAY_PATHS):
            return None  # Flask then uses a null session and saves nothing
        return super().open_session(app, request)


def _check_price(text: str) -> None:
    """Refuse at start an ``SMS_PRICE_PER_PART`` that every campaign's cost
    estimate would trip over later."""
    from domain.campaigns import parse_price

    try:
        parse_price(text)
    except ValueError as exc:
        raise ValueError(f"SMS_PRICE_PER_PART: {exc}") from None


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app from environment settings, overridden by ``config``.

    No app exists at import time; ``wsgi.py`` and the CLI call this.
    """
    from app import (
        abuse,
        cli,
        cli_analytics,
        cli_campaign,
        cli_data,
        cli_job,
        cli_privacy,
        cli_sms,
        cli_user,
        console,
        db,
        health,
        log_masking,
        metrics,
        redis_store,
        simulator,
        sms,
        ussd,
        webhook_auth,
    )
    from app import config as settings
    from domain import content

    # First: every log record from here on has its phone numbers and tokens masked.
    log_masking.install()
    app = Flask(__name__, instance_path=settings.from_env()["INSTANCE_DIR"])
    app.config.update(settings.from_env())
    app.config.update(config or {})
    logging.getLogger("transitions").setLevel(logging.ERROR)
    app.session_interface = NoCookieForGateways()
    if app.config["SECRET_KEY"] == settings.DEV_SECRET_KEY and not app.config.get("TESTING"):
        # Anyone who knows the default can forge a console session.
        app.logger.warning(
            "SECRET_KEY is the development default: set SECRET_KEY before serving the console"
        )

    _check_price(app.config["SMS_PRICE_PER_PART"])
    webhook_auth.init_app(app)
    db.init_app(app)
    redis_store.init_app(app)
    abuse.init_app(app)
    content.configure_cache(app.config["CONTENT_CACHE_SECONDS"])
    ussd.init_app(app)
    sms.init_app(app)
    health.init_app(app)
    metrics.init_app(app)
    simulator.init_app(app)
    console.init_app(app)
    cli.init_app(app)
    cli_analytics.init_app(app)
    cli_campaign.init_app(app)
    cli_data.init_app(app)
    cli_job.init_app(app)
    cli_privacy.init_app(app)
    cli_sms.init_app(app)
    cli_user.init_app(app)
    return app

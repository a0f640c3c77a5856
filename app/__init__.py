"""Ngazi's Flask application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app from environment settings, overridden by ``config``.

    No app exists at import time; ``wsgi.py`` and the CLI call this.
    """
    from app import cli, db, health, redis_store, simulator, ussd
    from app import config as settings
    from domain import content

    app = Flask(__name__, instance_path=settings.from_env()["INSTANCE_DIR"])
    app.config.update(settings.from_env())
    app.config.update(config or {})
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"]
    logging.getLogger("transitions").setLevel(logging.ERROR)

    db.init_app(app)
    redis_store.init_app(app)
    content.configure_cache(app.config["CONTENT_CACHE_SECONDS"])
    ussd.init_app(app)
    health.init_app(app)
    simulator.init_app(app)
    cli.init_app(app)
    return app

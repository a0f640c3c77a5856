"""``GET /healthz``: is the database reachable, is Redis?"""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from flask.typing import ResponseReturnValue

from app import db, redis_store

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """``{"status": "ok"|"degraded", "database": bool, "redis": bool}``; 503 when degraded."""
    checks = {"database": db.ping(), "redis": redis_store.ping()}
    ok = all(checks.values())
    return jsonify(status="ok" if ok else "degraded", **checks), 200 if ok else 503


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

"""``/simulator``: a basic phone in the browser, speaking to ``/ussd``.

For development and demos only (``SIMULATOR``, on by default only while
``WEBHOOK_TOKEN`` is the development default).
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from app.db import db_session
from domain.phone import InvalidMsisdn, normalise_msisdn
from domain.sms import inbox

bp = Blueprint(
    "simulator",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/simulator/static",
)


@bp.get("/simulator")
def page() -> ResponseReturnValue:
    return render_template(
        "simulator.html",
        service_code=current_app.config["USSD_SERVICE_CODE"],
        token=current_app.config["WEBHOOK_TOKEN"],
    )


@bp.get("/simulator/inbox")
def sms_inbox() -> ResponseReturnValue:
    """``{"msisdn": "+254…", "messages": [{"id", "body", "status", "created_at"}]}``."""
    try:
        msisdn = normalise_msisdn(
            request.args.get("msisdn", ""), current_app.config["DEFAULT_REGION"]
        )
    except InvalidMsisdn:
        return jsonify(error="msisdn is not a phone number"), 400
    try:
        rows = inbox(db_session(), msisdn)
    except SQLAlchemyError:
        db_session().rollback()
        return jsonify(error="the database is not available"), 503
    return jsonify(
        msisdn=msisdn,
        messages=[
            {
                "id": r.id,
                "body": text,
                "status": r.status.value,
                "created_at": r.created_at.isoformat(),
            }
            for r, text in rows
        ],
    )


def init_app(app: Flask) -> None:
    """Mount the simulator only when ``SIMULATOR`` is on: it dials as any number
    and reads any number's SMS, and its page carries the callbacks' token."""
    if app.config["SIMULATOR"]:
        app.register_blueprint(bp)

"""Process one stored inbound SMS (STOP, START, HELP, produce offers, SOLD,
CANCEL, LANG) and send its reply."""

from __future__ import annotations

from flask import current_app

from app.db import db_session
from domain import inbound
from workers import SMS, enqueue, job
from workers.sms import send_sms


@job
def process_inbound(inbound_id: int) -> str:
    """Act on the ``received`` (or ``failed``) inbound SMS ``inbound_id`` and
    enqueue its reply. A second run does nothing (the row is claimed first).

    Returns the outcome ("opt-out", "opt-in", "offer", "unclear", "sold", …,
    "help"), or "skipped" when the row
    was not claimable. On any error the row is marked ``failed`` with the error
    text and the error is re-raised, so RQ retries the job.
    """
    db = db_session()
    try:
        config = current_app.config
        done = inbound.process(
            db,
            inbound_id,
            service_code=config["USSD_SERVICE_CODE"],
            region=config["DEFAULT_REGION"],
            offer_days=config["OFFER_DAYS"],
        )
        if done is not None and done.reply_pending and done.reply_id is not None:
            enqueue(SMS, send_sms, done.reply_id)
    except Exception as exc:
        db.rollback()
        inbound.mark_failed(db, inbound_id, exc)
        db.commit()
        raise
    return "skipped" if done is None else done.outcome

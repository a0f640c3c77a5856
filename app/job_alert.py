"""Send a posted job's SMS alert with the app's settings: the one way the console
(``app.console.jobs``) and ``flask job add`` (``app.cli_job``) both do it."""

from __future__ import annotations

import logging

from flask import current_app
from redis.exceptions import RedisError

from app.db import db_session
from domain import job_alerts
from models import Campaign, CampaignStatus, Job
from workers import campaigns as campaign_jobs

log = logging.getLogger(__name__)


def send_alert(job: Job) -> Campaign | None:
    """Schedule the job's alert campaign (``domain.job_alerts.alert_campaign``)
    with the service code, price and quiet hours of the app's settings, commit
    it and start it (with Redis away, the campaigns' tick starts it later).
    Returns the campaign, or None when nobody in the county subscribes to jobs.
    Raises ``domain.campaigns.CampaignError`` (nothing is kept) when it cannot
    be sent."""
    db = db_session()
    config = current_app.config
    try:
        campaign = job_alerts.alert_campaign(
            db,
            job,
            service_code=config["USSD_SERVICE_CODE"],
            price_per_part=config["SMS_PRICE_PER_PART"],
            quiet_hours=config["CAMPAIGN_QUIET_HOURS"],
        )
        db.commit()
    except Exception:
        db.rollback()
        raise
    if campaign is not None and campaign.status is CampaignStatus.SCHEDULED:
        try:
            campaign_jobs.start(db, campaign)
        except RedisError:  # it is saved, scheduled: the campaigns' tick starts it
            log.warning("job %s: alert campaign %s waits for the tick", job.id, campaign.id)
    return campaign

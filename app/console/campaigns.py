"""``/console/campaigns``: list, create, preview, send and steer SMS campaigns.

The pages call ``domain.campaigns`` and ``workers.campaigns`` exactly as
``flask campaign`` does (``app/cli_campaign.py``). Admins and operators may
create and steer; a supervisor sees the campaigns whose audience lies within
their areas and gets 403 on every change. The delivery funnel is also served
as JSON, which ``static/campaign.js`` polls every 5 seconds.
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.console import bp, row_id
from app.console.auth import current_console_user
from app.console.campaign_form import LANGUAGE_NAMES, CampaignForm
from app.db import db_session
from domain import campaigns
from domain.campaigns import CampaignError
from domain.console_users import visible_areas
from models import Area, Campaign, CampaignStatus, ConsoleRole, MessageTemplate
from models.base import utcnow
from workers import campaigns as campaign_jobs

PAGE_SIZE = 50
#: Who may create and steer campaigns (a supervisor only watches).
STEERS = frozenset({ConsoleRole.ADMIN, ConsoleRole.OPERATOR})
FINAL = frozenset({CampaignStatus.DONE, CampaignStatus.CANCELLED})


# -- who sees what -----------------------------------------------------------------------


def _may_steer() -> bool:
    return current_console_user().role in STEERS


def _require_steer() -> None:
    if not _may_steer():
        abort(
            make_response(
                render_template(
                    "console/error.html",
                    title="Not allowed",
                    message="A supervisor may watch campaigns but not create or change them.",
                ),
                403,
            )
        )


def _visible(db: Session) -> set[int] | None:
    """Area ids the user sees; None for every area."""
    areas = visible_areas(db, current_console_user())
    return None if areas is None else set(areas)


def _sees(campaign_audience: dict[str, Any], areas: set[int] | None) -> bool:
    """A supervisor sees a campaign whose audience names areas, all within theirs
    (one for the whole country is not theirs to see)."""
    if areas is None:
        return True
    named = campaign_audience.get("areas") or []
    return bool(named) and set(named) <= areas


def _campaign(campaign_id: int) -> Campaign:
    db = db_session()
    campaign = db.get(Campaign, campaign_id) if campaign_id < 2**31 else None
    if campaign is None or not _sees(campaign.audience, _visible(db)):
        abort(404)
    return campaign


# -- list ----------------------------------------------------------------------------------


@bp.get("/campaigns")
def campaign_list() -> ResponseReturnValue:
    """Campaigns, newest first, ``PAGE_SIZE`` a page (``?page=N``)."""
    db = db_session()
    page = request.args.get("page", "1")
    number = min(row_id(page) or 1, 100_000)
    areas = _visible(db)
    if areas is None:
        total = db.scalar(select(func.count()).select_from(Campaign)) or 0
        ids = list(
            db.scalars(
                select(Campaign.id)
                .order_by(Campaign.id.desc())
                .limit(PAGE_SIZE)
                .offset((number - 1) * PAGE_SIZE)
            )
        )
    else:  # audiences are JSON: filtered here (campaigns number in the thousands)
        seen = [
            i
            for i, audience in db.execute(
                select(Campaign.id, Campaign.audience).order_by(Campaign.id.desc())
            )
            if _sees(audience, areas)
        ]
        total = len(seen)
        ids = seen[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    rows = (
        db.scalars(select(Campaign).where(Campaign.id.in_(ids)).order_by(Campaign.id.desc())).all()
        if ids
        else []
    )
    counts = campaigns.funnels(db, ids)
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template(
        "console/campaigns.html",
        rows=rows,
        counts=counts,
        page=number,
        pages=pages,
        total=total,
        may_steer=_may_steer(),
        limited=areas is not None,
    )


# -- create ----------------------------------------------------------------------------------


@bp.route("/campaigns/new", methods=["GET", "POST"])
def campaign_new() -> ResponseReturnValue:
    """The form; a valid one makes a draft and goes to its page. "Use template"
    fills the form from an approved template instead (nothing is created)."""
    _require_steer()
    db = db_session()
    form = CampaignForm()
    form.fill_choices(db)
    error = None
    if request.method == "GET":
        form.quiet_hours.data = current_app.config["CAMPAIGN_QUIET_HOURS"] or "none"
        chosen = request.args.get("template", "")
        number = row_id(chosen)
        template = db.get(MessageTemplate, number) if number is not None else None
        if template is not None and template.approved:
            form.fill_from(template)
    elif "use_template" in request.form:
        number = row_id(form.template.data)
        template = db.get(MessageTemplate, number) if number is not None else None
        if template is not None and template.approved:
            form.fill_from(template)
        else:
            error = "Choose an approved template first."
    elif form.validate():
        try:
            campaign = campaigns.create_campaign(
                db, **form.campaign_args(db), created_via="console"
            )
            db.commit()
        except CampaignError as exc:
            db.rollback()
            error = str(exc)
        else:
            flash(f"Campaign {campaign.id} saved as a draft. Check the preview, then send it.")
            return redirect(url_for("console.campaign_page", campaign_id=campaign.id))
    else:
        error = "Some fields need attention (below)."
    form.ensure_dedup()
    status = 400 if request.method == "POST" and error else 200
    return render_template(
        "console/campaign_new.html", form=form, error=error, languages=LANGUAGE_NAMES
    ), status


# -- one campaign -------------------------------------------------------------------------------


@bp.get("/campaigns/<int:campaign_id>")
def campaign_page(campaign_id: int) -> ResponseReturnValue:
    """Texts, audience, preview (live for a draft, the estimate it was sent with
    after), schedule, the buttons its status allows, and the delivery funnel."""
    db = db_session()
    campaign = _campaign(campaign_id)
    if campaign.status is CampaignStatus.DRAFT or not campaign.estimate:
        estimate = campaigns.preview(
            db, campaign, current_app.config["SMS_PRICE_PER_PART"]
        ).to_json()
        live = True
    else:
        estimate, live = campaign.estimate, False
    return render_template(
        "console/campaign.html",
        campaign=campaign,
        audience=describe_audience(db, campaign.audience),
        estimate=estimate,
        live=live,
        funnel=funnel_json(db, campaign),
        may_steer=_may_steer(),
        languages=LANGUAGE_NAMES,
        send_later=campaign.send_at is not None and campaign.send_at > utcnow(),
        final=campaign.status in FINAL,
        price=campaigns.parse_price(current_app.config["SMS_PRICE_PER_PART"])[1],
        zone=ZoneInfo(campaign.timezone),
    )


@bp.get("/campaigns/<int:campaign_id>/funnel.json")
def campaign_funnel(campaign_id: int) -> ResponseReturnValue:
    """``{"status", "reason", "planned", "total", "funnel": {status: n},
    "failures": {reason: n}}``, as the page's script polls it."""
    return jsonify(funnel_json(db_session(), _campaign(campaign_id)))


def funnel_json(db: Session, campaign: Campaign) -> dict[str, Any]:
    counts = campaigns.funnel(db, campaign.id)
    return {
        "id": campaign.id,
        "status": campaign.status.value,
        "reason": campaign.status_reason,
        "planned": campaign.planned,
        "planning_done": campaign.planning_done,
        "total": sum(counts.values()),
        "funnel": counts,
        "failures": campaigns.failure_reasons(db, campaign.id),
        "final": campaign.status in FINAL,
    }


@bp.post("/campaigns/<int:campaign_id>/send")
def campaign_send(campaign_id: int) -> ResponseReturnValue:
    """Schedule a draft with a fresh preview and start it, as ``flask campaign send``."""
    _require_steer()
    db = db_session()
    campaign = _campaign(campaign_id)
    estimate = campaigns.preview(db, campaign, current_app.config["SMS_PRICE_PER_PART"])
    try:
        campaigns.schedule(db, campaign, estimate)
        db.commit()
    except CampaignError as exc:
        db.rollback()
        return _back(campaign_id, f"Not sent: {exc}.")
    campaign_jobs.start(db, campaign)
    later = campaign.send_at is not None and campaign.send_at > utcnow()
    when = f"for {campaign.send_at:%Y-%m-%d %H:%M} UTC" if later else "now"
    return _back(campaign_id, f"Campaign {campaign_id} scheduled {when}.")


@bp.post("/campaigns/<int:campaign_id>/pause")
def campaign_pause(campaign_id: int) -> ResponseReturnValue:
    _require_steer()
    db = db_session()
    user = current_console_user()
    if not campaigns.pause(db, _campaign(campaign_id), f"paused by {user.username}"):
        return _back(campaign_id, "Only a scheduled or sending campaign can be paused.")
    db.commit()
    return _back(campaign_id, f"Campaign {campaign_id} paused: queued messages wait.")


@bp.post("/campaigns/<int:campaign_id>/resume")
def campaign_resume(campaign_id: int) -> ResponseReturnValue:
    _require_steer()
    db = db_session()
    campaign = _campaign(campaign_id)
    if not campaigns.resume(db, campaign):
        return _back(campaign_id, "The campaign is not paused.")
    db.commit()
    campaign_jobs.resume_work(db, campaign)
    return _back(campaign_id, f"Campaign {campaign_id} resumed.")


@bp.post("/campaigns/<int:campaign_id>/cancel")
def campaign_cancel(campaign_id: int) -> ResponseReturnValue:
    """Cancel, once the "yes, cancel" box is ticked: messages not yet sent are skipped."""
    _require_steer()
    db = db_session()
    campaign = _campaign(campaign_id)
    if request.form.get("confirm") != "yes":
        return _back(campaign_id, "Not cancelled: tick the box to confirm.")
    try:
        skipped = campaigns.cancel(db, campaign)
    except CampaignError as exc:
        db.rollback()
        return _back(campaign_id, f"Not cancelled: {exc}.")
    db.commit()
    noun = "message" if skipped == 1 else "messages"
    return _back(campaign_id, f"Campaign {campaign_id} cancelled; {skipped} {noun} not sent.")


def _back(campaign_id: int, message: str) -> ResponseReturnValue:
    flash(message)
    return redirect(url_for("console.campaign_page", campaign_id=campaign_id))


# -- the audience in words ---------------------------------------------------------------------


def describe_audience(db: Session, audience: dict[str, Any]) -> dict[str, Any]:
    """``{"areas": ["Nyanza / Kisumu", …], "languages": ["English", …], "topics":
    [...], "rule": pretty JSON or None, "price_alert": ... or None}``."""
    ids = list(audience.get("areas") or [])
    names: dict[int, str] = {}
    if ids:
        for area in db.scalars(select(Area).where(Area.id.in_(ids))):
            names[area.id] = f"{area.parent.name} / {area.name}" if area.parent else area.name
    rule = audience.get("rule")
    return {
        "areas": [names.get(i, f"area {i}") for i in ids],
        "languages": [LANGUAGE_NAMES.get(c, c) for c in audience.get("languages") or []],
        "topics": list(audience.get("topics") or []),
        "rule": json.dumps(rule, indent=2, ensure_ascii=False) if rule is not None else None,
        "price_alert": audience.get("price_alert"),
    }

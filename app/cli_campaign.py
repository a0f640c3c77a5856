"""``flask campaign …``: create, preview, send and steer SMS campaigns.

The commands call ``domain.campaigns`` and ``workers.campaigns``, as the cadre's
USSD menu and the operator console do.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app.db import db_session
from domain import campaigns
from domain.campaigns import Audience, CampaignError
from models import Area, Campaign
from models.base import utcnow
from workers import campaigns as campaign_jobs

#: A campaign id as the database keeps it (a 32-bit integer).
CAMPAIGN_ID = click.IntRange(1, 2**31 - 1)


def init_app(app: Flask) -> None:
    app.cli.add_command(campaign_group)


@click.group("campaign")
def campaign_group() -> None:
    """SMS campaigns to the households they fit."""


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint=what)
        out[key.strip()] = rest
    return out


def find_area(spec: str) -> Area:
    """An area by name or path (``"Nyanza"``, ``"Kisumu"``, ``"Kisumu/Ahero"``,
    ``"Nyanza/Kisumu/Ahero"``): every name given must be an ancestor in turn."""
    db = db_session()
    *parents, name = [part.strip() for part in spec.split("/")]

    def under(area: Area) -> bool:
        node = area.parent
        for parent in reversed(parents):
            if node is None or node.name != parent:
                return False
            node = node.parent
        return True

    found = [a for a in db.scalars(select(Area).where(Area.name == name)) if under(a)]
    if not found:
        raise click.BadParameter(f"no area {spec!r}", param_hint="--area")
    if len(found) > 1:
        raise click.BadParameter(f"several areas are called {spec!r}: write Parent/Name")
    return found[0]


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _echo_preview(preview: campaigns.Preview) -> None:
    click.echo(
        f"recipients: {preview.recipients}  SMS parts: {preview.sms}  "
        f"estimated cost: {preview.currency} {preview.cost}"
    )
    if preview.recipients == 0:
        click.echo("  nobody: no subscriber fits this audience now")
    for lp in preview.languages:
        text_note = "" if lp.template_language == lp.language else f" (gets {lp.template_language})"
        click.echo(
            f"  {lp.language}{text_note}: {_n(lp.recipients, 'recipient')}, "
            f"{_n(lp.parts, 'part')} each, {lp.encoding}; {lp.sms} SMS"
        )
        click.echo(f"    {lp.sample}")
        if lp.warning:
            click.echo(f"    WARNING: {lp.warning}")
            click.echo(f"    GSM-7 version: {lp.lookalike}")


@campaign_group.command("create")
@click.argument("name")
@click.option("--text", "texts", multiple=True, required=True, help="LANG=TEXT, once per language.")
@click.option("--default-language", default="en", show_default=True)
@click.option("--area", "areas", multiple=True, help="Province, County or County/Village.")
@click.option("--language", "languages", multiple=True, help="Only subscribers of LANG.")
@click.option("--topic", "topics", multiple=True, help="Only subscribers to TOPIC.")
@click.option("--rule", help="""Eligibility rule (JSON): '{"field": "mpi_poor", "is": true}'.""")
@click.option("--var", "variables", multiple=True, help="NAME=VALUE for {NAME} in the texts.")
@click.option("--at", "send_at", help="Local send time, YYYY-MM-DD HH:MM (default: now).")
@click.option("--spread-hours", type=float, default=0.0, show_default=True)
@click.option(
    "--quiet",
    default=None,
    help="Quiet hours, local time, like 20:00-07:00, or 'none' (default: CAMPAIGN_QUIET_HOURS).",
)
@click.option("--send", is_flag=True, help="Schedule it now (else it stays a draft).")
@with_appcontext
def campaign_create(
    name: str,
    texts: tuple[str, ...],
    default_language: str,
    areas: tuple[str, ...],
    languages: tuple[str, ...],
    topics: tuple[str, ...],
    rule: str | None,
    variables: tuple[str, ...],
    send_at: str | None,
    spread_hours: float,
    quiet: str | None,
    send: bool,
) -> None:
    """Create a campaign and print its preview (recipients, parts, cost)."""
    db = db_session()
    rule_value: Any = None
    if rule:
        try:
            rule_value = json.loads(rule)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--rule") from exc
        except RecursionError as exc:
            raise click.BadParameter("nested too deep", param_hint="--rule") from exc
    local = None
    if send_at:
        try:
            local = datetime.strptime(send_at, "%Y-%m-%d %H:%M")
        except ValueError as exc:
            raise click.BadParameter("YYYY-MM-DD HH:MM", param_hint="--at") from exc
    audience = Audience(
        areas=tuple(find_area(a).id for a in areas),
        languages=languages,
        topics=topics,
        rule=rule_value,
    )
    try:
        campaign = campaigns.create_campaign(
            db,
            name=name,
            messages=_pairs(texts, "--text"),
            audience=audience,
            default_language=default_language,
            variables=_pairs(variables, "--var"),
            send_at_local=local,
            spread_hours=spread_hours,
            quiet_hours=quiet if quiet is not None else current_app.config["CAMPAIGN_QUIET_HOURS"],
        )
        db.commit()
    except CampaignError as exc:
        db.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"campaign {campaign.id}: {campaign.name} (draft, time zone {campaign.timezone})")
    _preview_and_maybe_send(campaign, send)


def _preview_and_maybe_send(campaign: Campaign, send: bool) -> None:
    db = db_session()
    preview = campaigns.preview(db, campaign, current_app.config["SMS_PRICE_PER_PART"])
    _echo_preview(preview)
    if not send:
        click.echo(f"send it with: flask campaign send {campaign.id}")
        return
    try:
        campaigns.schedule(db, campaign, preview)
        db.commit()
    except CampaignError as exc:
        db.rollback()
        raise click.ClickException(str(exc)) from exc
    campaign_jobs.start(db, campaign)
    later = campaign.send_at is not None and campaign.send_at > utcnow()
    when = f"at {campaign.send_at:%Y-%m-%d %H:%M} UTC" if later else "now"
    click.echo(f"campaign {campaign.id} scheduled {when}")


def _campaign(campaign_id: int) -> Campaign:
    campaign = db_session().get(Campaign, campaign_id)
    if campaign is None:
        raise click.ClickException(f"no campaign {campaign_id}")
    return campaign


@campaign_group.command("preview")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@with_appcontext
def campaign_preview(campaign_id: int) -> None:
    """Recipients now, SMS parts per language and the estimated cost."""
    campaign = _campaign(campaign_id)
    _echo_preview(
        campaigns.preview(db_session(), campaign, current_app.config["SMS_PRICE_PER_PART"])
    )


@campaign_group.command("send")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@with_appcontext
def campaign_send(campaign_id: int) -> None:
    """Schedule a draft (now, or at its send time)."""
    _preview_and_maybe_send(_campaign(campaign_id), True)


@campaign_group.command("list")
@with_appcontext
def campaign_list() -> None:
    """Every campaign, newest first: id, status, recipients planned, name."""
    click.echo("id\tstatus\tplanned\tname")
    for c in db_session().scalars(select(Campaign).order_by(Campaign.id.desc())):
        click.echo(f"{c.id}\t{c.status.value}\t{c.planned}\t{c.name}")


@campaign_group.command("show")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@with_appcontext
def campaign_show(campaign_id: int) -> None:
    """Status and delivery funnel, as JSON."""
    db = db_session()
    c = _campaign(campaign_id)
    click.echo(
        json.dumps(
            {
                "id": c.id,
                "name": c.name,
                "status": c.status.value,
                "reason": c.status_reason,
                "timezone": c.timezone,
                "send_at": c.send_at.isoformat() if c.send_at else None,
                "planned": c.planned,
                "planning_done": c.planning_done,
                "funnel": campaigns.funnel(db, c.id),
                "failures": campaigns.failure_reasons(db, c.id),
                "estimate": c.estimate,
            },
            indent=2,
            ensure_ascii=False,
        )
    )


@campaign_group.command("pause")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@with_appcontext
def campaign_pause(campaign_id: int) -> None:
    """Stop sending; queued messages wait for resume."""
    db = db_session()
    if not campaigns.pause(db, _campaign(campaign_id), "paused by an operator"):
        raise click.ClickException("only a scheduled or sending campaign can be paused")
    db.commit()
    click.echo(f"campaign {campaign_id} paused")


@campaign_group.command("resume")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@with_appcontext
def campaign_resume(campaign_id: int) -> None:
    """Take a paused campaign up again."""
    db = db_session()
    campaign = _campaign(campaign_id)
    if not campaigns.resume(db, campaign):
        raise click.ClickException("the campaign is not paused")
    db.commit()
    campaign_jobs.resume_work(db, campaign)
    click.echo(f"campaign {campaign_id} resumed")


@campaign_group.command("cancel")
@click.argument("campaign_id", type=CAMPAIGN_ID)
@with_appcontext
def campaign_cancel(campaign_id: int) -> None:
    """Cancel: messages not yet sent are skipped."""
    db = db_session()
    try:
        skipped = campaigns.cancel(db, _campaign(campaign_id))
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from exc
    db.commit()
    click.echo(f"campaign {campaign_id} cancelled; {_n(skipped, 'message')} not sent")


@campaign_group.command("tick")
@with_appcontext
def campaign_tick() -> None:
    """Start due campaigns, recover lost work, finish what is done (a worker runs
    this every minute; cron it in the embedded default). Prints what it did as
    JSON: started, reconciled (claims put back), replanned, requeued (rows),
    finished; ``{}`` when there was nothing to do."""
    click.echo(json.dumps(campaign_jobs.tick()))

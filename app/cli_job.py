"""``flask job …``: post jobs to the jobs board, list them, close them.

``job add`` announces the job to subscribers of the "jobs" topic in its county
(``domain.job_alerts.alert_campaign``) unless ``--no-alert``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from app.cli_campaign import find_area
from app.db import db_session
from app.job_alert import send_alert
from domain import jobs
from domain.campaigns import CampaignError
from domain.market import local_currency
from models import Area, Job, JobApplication
from models.base import utcnow

#: A job id as the database keeps it (a 32-bit integer).
JOB_ID = click.IntRange(1, 2**31 - 1)


def init_app(app: Flask) -> None:
    app.cli.add_command(job_group)


@click.group("job")
def job_group() -> None:
    """The jobs board: jobs villagers apply for by USSD."""


def _area(spec: str) -> Area:
    """An area by id, or by name or path (``Kisumu/Ahero``) as ``--area`` takes it."""
    if spec.strip().isdigit():
        # Ids are 32-bit: a longer number names no area (and would overflow the driver).
        area = db_session().get(Area, int(spec)) if int(spec) < 2**31 else None
        if area is None:
            raise click.BadParameter(f"no area with id {spec}", param_hint="--area")
        return area
    return find_area(spec)


#: A closing date further ahead than this is a typing mistake (9999-12-31).
MAX_OPEN_DAYS = 366


def _closing_date(text: str) -> date:
    try:
        closes = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as exc:
        raise click.BadParameter("YYYY-MM-DD", param_hint="--closes") from exc
    if closes > utcnow().date() + timedelta(days=MAX_OPEN_DAYS):
        raise click.BadParameter(
            f"more than {MAX_OPEN_DAYS} days ahead: a job takes applications for a year at most",
            param_hint="--closes",
        )
    return closes


@job_group.command("add")
@click.option("--title-en", required=True, help="Title in English (at most 40 characters).")
@click.option("--title-sw", default="", help="Title in Kiswahili.")
@click.option("--title-fr", default="", help="Title in French.")
@click.option("--title-zh", default="", help="Title in Chinese.")
@click.option("--employer", required=True, help="Who employs (at most 80 characters).")
@click.option("--contact", required=True, help="MSISDN that gets each application by SMS.")
@click.option("--area", "area_spec", required=True, help="County/Village, a county, or an id.")
@click.option("--wage", required=True, help="Amount per period, e.g. 500.")
@click.option("--per", "period", type=click.Choice(list(jobs.PERIODS)), default="day")
@click.option("--currency", default=None, help="ISO 4217 (default: the area's country's).")
@click.option("--slots", type=click.IntRange(1, jobs.MAX_SLOTS), default=1, show_default=True)
@click.option("--closes", required=True, help="Last day to apply, YYYY-MM-DD (area's time).")
@click.option("--requirements-en", default="", help="What it needs, in English.")
@click.option("--requirements-sw", default="")
@click.option("--requirements-fr", default="")
@click.option("--requirements-zh", default="")
@click.option("--no-alert", is_flag=True, help="Do not SMS subscribers to jobs in the county.")
@with_appcontext
def job_add(
    title_en: str,
    title_sw: str,
    title_fr: str,
    title_zh: str,
    employer: str,
    contact: str,
    area_spec: str,
    wage: str,
    period: str,
    currency: str | None,
    slots: int,
    closes: str,
    requirements_en: str,
    requirements_sw: str,
    requirements_fr: str,
    requirements_zh: str,
    no_alert: bool,
) -> None:
    """Post a job and (unless --no-alert) SMS the subscribers to jobs in its county."""
    db = db_session()
    area = _area(area_spec)
    closes_on = _closing_date(closes)
    try:
        job = jobs.add_job(
            db,
            titles={"en": title_en, "sw": title_sw, "fr": title_fr, "zh": title_zh},
            requirements={
                "en": requirements_en,
                "sw": requirements_sw,
                "fr": requirements_fr,
                "zh": requirements_zh,
            },
            employer=employer,
            contact=contact,
            area_id=area.id,
            wage=wage,
            wage_period=period,
            currency=(currency or local_currency(area.country)).upper(),
            slots=slots,
            closes_on=closes_on,
            now=utcnow(),
            region=current_app.config["DEFAULT_REGION"],
        )
        db.commit()
    except jobs.JobError as exc:
        db.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"job {job.id}: {job.titles['en']}, {job.employer}, {area.name}, "
        f"{jobs.wage_text(job, 'en')}, places: {job.slots}, closes {job.closes_on.isoformat()}"
    )
    if not no_alert:
        _alert(job)


def _alert(job: Job) -> None:
    try:
        campaign = send_alert(job)
    except CampaignError as exc:
        raise click.ClickException(f"job {job.id} posted, but no alert: {exc}") from exc
    if campaign is None:
        click.echo("alert: nobody in the county subscribes to jobs; no SMS sent")
        return
    recipients = (campaign.estimate or {}).get("recipients", 0)
    click.echo(f"alert: campaign {campaign.id} to {recipients} subscribers to jobs")


@job_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Closed and past jobs too.")
@with_appcontext
def job_list(show_all: bool) -> None:
    """Jobs open now (every job with --all): id, status, closes, area, wage,
    slots, applications, title."""
    db = db_session()
    now = utcnow()
    counts = dict(
        db.execute(
            select(JobApplication.job_id, func.count()).group_by(JobApplication.job_id)
        ).all()
    )
    click.echo("id\tstatus\tcloses\tarea\twage\tslots\tapplied\ttitle")
    for job in db.scalars(select(Job).order_by(Job.id)):
        status = job.status.value
        if status == "open" and not jobs.is_open(db, job, now):
            status = "past"
        if status != "open" and not show_all:
            continue
        click.echo(
            f"{job.id}\t{status}\t{job.closes_on.isoformat()}\t{jobs.place_of(db, job)}\t"
            f"{jobs.wage_text(job, 'en')}\t{job.slots}\t{counts.get(job.id, 0)}\t"
            f"{job.titles['en']}"
        )


@job_group.command("close")
@click.argument("job_id", type=JOB_ID)
@with_appcontext
def job_close(job_id: int) -> None:
    """Stop a job taking applications (filled or withdrawn)."""
    db = db_session()
    try:
        job = jobs.close_job(db, job_id)
    except jobs.JobError as exc:
        raise click.ClickException(str(exc)) from exc
    db.commit()
    click.echo(f"job {job.id} closed: {job.titles['en']}")

"""Command-line tools: ``flask demo load``, ``flask dial``, ``flask worker``,
``flask mpi``, ``flask cadre …``, ``flask survey …``, ``flask household reset-pin``."""

from __future__ import annotations

import json
import uuid

import click
import requests
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from app.cli_demo_generate import demo_generate
from app.db import db_session
from domain import demo, mpi
from domain.cadres import CadreError, add_cadre, deactivate_cadre
from domain.phone import InvalidMsisdn
from domain.subscribers import reset_pin
from domain.surveys import current_round_id, open_round, purge_expired_drafts, store_definition
from domain.xlsform import FormError, read_xlsform
from models import Cadre, CadreRole, Survey, SurveyRound
from models.base import utcnow
from workers import QUEUES


def init_app(app: Flask) -> None:
    demo_group.add_command(demo_generate)  # app/cli_demo_generate.py
    app.cli.add_command(demo_group)
    app.cli.add_command(dial)
    app.cli.add_command(worker)
    app.cli.add_command(mpi_command)
    app.cli.add_command(cadre_group)
    app.cli.add_command(survey_group)
    app.cli.add_command(household_group)


@click.group("demo")
def demo_group() -> None:
    """Demo data."""


@demo_group.command("load")
@with_appcontext
def demo_load() -> None:
    """Load areas, content in four languages, the surveys in surveys/, demo
    cadres, approved SMS templates, jobs and the demo console admin (idempotent)."""
    db = db_session()
    areas = demo.load_areas(db)
    articles = demo.load_content(db)
    forms = demo.load_surveys(db)
    cadres = demo.load_staff(db)
    templates = demo.load_templates(db)
    jobs = demo.load_jobs(db, utcnow())
    users = demo.load_console_users(db)
    click.echo(
        f"demo console users: {users} (DEMO ONLY: their passwords are public, see the README)"
    )
    click.echo(
        f"demo data: {areas} areas, {articles} articles, {forms} surveys, {cadres} cadres, "
        f"{templates} SMS templates, {jobs} jobs"
    )


@demo_group.command("subscribers")
@click.argument("count", type=click.IntRange(1, 99_999), default=200)
@with_appcontext
def demo_subscribers(count: int) -> None:
    """Add COUNT demo villagers (default 200) in the demo villages, four languages,
    some subscribed to topics: an audience to try campaigns on (idempotent)."""
    try:
        new = demo.add_subscribers(db_session(), count)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"demo subscribers: {new} new, {count} in all")


@click.group("cadre")
def cadre_group() -> None:
    """Cadres (field staff) who survey households over USSD."""


@cadre_group.command("add")
@click.argument("msisdn")
@click.option("--name", required=True, help="Full name, as colleagues know them.")
@click.option(
    "--village",
    "villages",
    multiple=True,
    required=True,
    help="A village assigned (repeat the option); County/Village when the name is not unique.",
)
@click.option(
    "--role", type=click.Choice([r.value for r in CadreRole]), default=CadreRole.CADRE.value
)
@click.option(
    "--pin",
    prompt="PIN (4-6 digits)",
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for (hidden) when not given; NGAZI_CADRE_PIN works too.",
    envvar="NGAZI_CADRE_PIN",
)
@with_appcontext
def cadre_add(msisdn: str, name: str, villages: tuple[str, ...], role: str, pin: str) -> None:
    """Create a cadre, or update the one with this MSISDN (name, role, villages, PIN)."""
    db = db_session()
    try:
        cadre = add_cadre(
            db,
            msisdn=msisdn,
            name=name,
            pin=pin,
            villages=villages,
            role=CadreRole(role),
            region=current_app.config["DEFAULT_REGION"],
        )
    except CadreError as exc:
        db.rollback()
        raise click.ClickException(str(exc)) from exc
    db.commit()
    click.echo(f"cadre {cadre.id}: {cadre.msisdn} {cadre.name} ({', '.join(villages)})")


@cadre_group.command("deactivate")
@click.argument("msisdn")
@with_appcontext
def cadre_deactivate(msisdn: str) -> None:
    """Stop a cadre signing in (surveys and drafts are kept; `cadre add` re-activates)."""
    db = db_session()
    try:
        cadre = deactivate_cadre(db, msisdn, region=current_app.config["DEFAULT_REGION"])
    except CadreError as exc:
        raise click.ClickException(str(exc)) from exc
    db.commit()
    click.echo(f"cadre {cadre.id}: {cadre.msisdn} deactivated")


@cadre_group.command("list")
@with_appcontext
def cadre_list() -> None:
    """Every cadre: id, MSISDN, name, role, villages."""
    click.echo("id\tmsisdn\tname\trole\tstatus\tvillages")
    for cadre in db_session().scalars(select(Cadre).order_by(Cadre.id)):
        villages = ", ".join(
            f"{a.parent.name}/{a.name}" if a.parent else a.name for a in cadre.villages
        )
        status = "active" if cadre.active else "deactivated"
        click.echo(
            f"{cadre.id}\t{cadre.msisdn}\t{cadre.name}\t{cadre.role.value}\t{status}\t{villages}"
        )


@click.group("household")
def household_group() -> None:
    """Households and the villagers who read their record."""


@household_group.command("reset-pin")
@click.argument("msisdn")
@with_appcontext
def household_reset_pin(msisdn: str) -> None:
    """Forget the "My household" PIN of MSISDN (forgotten, or locked out): the
    next dial from that phone sets a new one."""
    db = db_session()
    try:
        found = reset_pin(db, msisdn, region=current_app.config["DEFAULT_REGION"])
    except (InvalidMsisdn, LookupError) as exc:
        raise click.ClickException(f"{msisdn}: {exc}") from exc
    db.commit()
    click.echo(f"{found}: PIN cleared; the next dial sets a new one")


@click.group("survey")
def survey_group() -> None:
    """Survey definitions (XLSForm), rounds and drafts."""


@survey_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def survey_load(file: str) -> None:
    """Import an XLSForm (.xlsx, .xls, .md) as a survey version (once per version)."""
    db = db_session()
    before = db.scalar(select(func.count()).select_from(Survey))
    try:
        survey = store_definition(db, read_xlsform(file))
    except FormError as exc:
        raise click.ClickException(str(exc)) from exc
    db.commit()
    new = db.scalar(select(func.count()).select_from(Survey)) != before
    what = "loaded" if new else "already loaded (change `version` in settings to load a new one)"
    click.echo(f"survey {survey.id}: {survey.form_id} version {survey.version} {what}")


@survey_group.command("round")
@click.argument("name")
@with_appcontext
def survey_round(name: str) -> None:
    """Open the survey round NAME (e.g. 2027); the newest round opened is current."""
    db = db_session()
    found = open_round(db, name)
    db.commit()
    current = db.get(SurveyRound, current_round_id(db))
    note = "" if current is None or current.id == found.id else f" (current: {current.name})"
    click.echo(f"round {found.id}: {found.name}{note}")


@survey_group.command("purge-drafts")
@with_appcontext
def survey_purge_drafts() -> None:
    """Delete drafts nobody has answered for 14 days."""
    click.echo(f"deleted {purge_expired_drafts(db_session())} expired drafts")


@click.command()
@click.argument("msisdn")
@click.option(
    "--url", default=None, help="The service's /ussd URL (default: http://127.0.0.1:$PORT/ussd)."
)
@click.option("--code", default=None, help="Service code to dial (default: USSD_SERVICE_CODE).")
@with_appcontext
def dial(msisdn: str, url: str | None, code: str | None) -> None:
    """A terminal phone: dial the running service over HTTP as the gateway does.

    Type a choice and Enter; an empty line or Ctrl-D hangs up.
    """
    import os

    url = url or f"http://127.0.0.1:{os.environ.get('PORT', '5000')}/ussd"
    code = code or current_app.config["USSD_SERVICE_CODE"]
    session_id = f"ATUid_sim_{uuid.uuid4().hex[:16]}"
    inputs: list[str] = []
    while True:
        form = {
            "sessionId": session_id,
            "serviceCode": code,
            "phoneNumber": msisdn,
            "networkCode": "63902",
            "text": "*".join(inputs),
        }
        try:
            # The service's own token, unless the URL carries one.
            params = {} if "token=" in url else {"token": current_app.config["WEBHOOK_TOKEN"]}
            resp = requests.post(url, data=form, params=params, timeout=15)
        except requests.RequestException as exc:
            raise click.ClickException(f"cannot reach {url}: {exc}") from exc
        if resp.status_code != 200:
            raise click.ClickException(f"{resp.status_code}: {resp.text[:200]}")
        kind, _, screen = resp.text.partition(" ")
        click.echo("-" * 24 + "\n" + screen + "\n" + "-" * 24)
        if kind != "CON":
            return
        try:
            choice = click.prompt(">", default="", show_default=False, prompt_suffix=" ")
        except (click.Abort, EOFError):
            return
        if not choice.strip():
            click.echo("hung up")
            return
        inputs.append(choice.strip())


@click.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--fork/--no-fork",
    default=None,
    help="Run each job in a forked work horse (RQ's default) or in the worker itself "
    "(default: the WORKER_FORK setting).",
)
@click.option(
    "--queue",
    "queues",
    multiple=True,
    type=click.Choice(QUEUES),
    help="Listen on this queue only (repeat for several; default: all, in priority order).",
)
@with_appcontext
def worker(burst: bool, fork: bool | None, queues: tuple[str, ...]) -> None:
    """Run an RQ worker on the Ngazi queues (all by default, or those named
    with --queue, always in priority order), with the scheduler (for retries).

    Without forking (the default) a job runs in the worker process: its
    database connections and imports are reused, which a campaign's thousands
    of batch jobs need; a job that overruns its timeout is still stopped (a
    signal), and a worker that dies loses nothing (claims, see
    docs/campaigns.md). ``--fork`` isolates each job in a child process instead.
    """
    from app.redis_store import get_redis
    from workers import NgaziForkingWorker, NgaziWorker, set_worker_app

    if not current_app.config["REDIS_URL"]:
        raise click.ClickException("REDIS_URL is not set: jobs already run inline")
    set_worker_app(current_app._get_current_object())  # type: ignore[attr-defined]
    if not burst:
        from workers.campaigns import schedule_tick

        schedule_tick()  # the campaigns' tick, every minute, while workers run
    forking = current_app.config["WORKER_FORK"] if fork is None else fork
    worker_class = NgaziForkingWorker if forking else NgaziWorker
    listen = [name for name in QUEUES if not queues or name in queues]
    worker_class(listen, connection=get_redis()).work(burst=burst, with_scheduler=True)


@click.command("mpi")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--k", "k_text", default="1/3", show_default=True, help="Poverty cutoff: 1/3 or 0.33."
)
def mpi_command(file: str, k_text: str) -> None:
    """Global MPI of a CSV deprivation matrix, printed as JSON.

    FILE has the header ``household_id,size`` and the ten indicators
    (years_of_schooling … assets) as 0/1 columns, in any order; other columns are
    rejected. ``size`` (people) weights every aggregate. Each number is printed as
    ``{"exact": "p/q", "float": x}``:

    \b
    {"k", "population", "poor_population", "H", "A", "MPI",
     "indicators": {name: {"weight", "censored_headcount", "contribution_pct"}},
     "households": [{"household_id", "size", "score", "censored_score",
                     "poor", "vulnerable", "severe"}]}

    ``contribution_pct`` is null when MPI is 0. A bad file or --k exits non-zero
    with a message naming the line.
    """
    try:
        k = mpi.parse_fraction(k_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--k") from exc
    try:
        with open(file, newline="", encoding="utf-8-sig") as fh:
            households = mpi.read_csv(fh)
        result = mpi.measure(households, k=k)
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file}: not UTF-8 text ({exc.reason})") from exc
    except ValueError as exc:
        message = str(exc)
        if message.startswith("k "):
            raise click.BadParameter(message, param_hint="--k") from exc
        raise click.ClickException(f"{file}: {message}") from exc
    click.echo(json.dumps(result.to_dict(), indent=2))

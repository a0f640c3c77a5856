"""Command-line tools: ``flask demo load``, ``flask dial``, ``flask worker``."""

from __future__ import annotations

import uuid

import click
import requests
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.db import db_session
from domain import demo


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_group)
    app.cli.add_command(dial)
    app.cli.add_command(worker)


@click.group("demo")
def demo_group() -> None:
    """Demo data."""


@demo_group.command("load")
@with_appcontext
def demo_load() -> None:
    """Load administrative areas and content in four languages (idempotent)."""
    db = db_session()
    areas = demo.load_areas(db)
    articles = demo.load_content(db)
    click.echo(f"demo data: {areas} areas, {articles} articles")


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
            resp = requests.post(url, data=form, timeout=15)
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
@with_appcontext
def worker(burst: bool) -> None:
    """Run an RQ worker on every Ngazi queue, with the scheduler (for retries)."""
    from rq import Worker

    from app.redis_store import get_redis
    from workers import QUEUES, set_worker_app

    if not current_app.config["REDIS_URL"]:
        raise click.ClickException("REDIS_URL is not set: jobs already run inline")
    set_worker_app(current_app._get_current_object())  # type: ignore[attr-defined]
    Worker(list(QUEUES), connection=get_redis()).work(burst=burst, with_scheduler=True)

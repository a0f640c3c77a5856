"""``flask analytics refresh``: recompute the console's stored area figures;
``flask demo households``: surveyed demo households to show them on.

Surveys completed over USSD refresh their villages as they come in (a job on
the default queue). This command recomputes everything, for after a bulk load
(``flask demo generate`` runs it), a change of the area tree, or a lost job.
"""

from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from app.db import db_session
from domain import analytics
from models import SurveyRound


def init_app(app: Flask) -> None:
    from app.cli import demo_group

    app.cli.add_command(analytics_group)
    demo_group.add_command(demo_households)


@click.group("analytics")
def analytics_group() -> None:
    """The console's poverty figures per area and survey round."""


@analytics_group.command("refresh")
@click.option("--round", "round_name", help="Only this survey round (its name).")
@with_appcontext
def analytics_refresh(round_name: str | None) -> None:
    """Recompute every area's figures from the surveys (every round, or one)."""
    db = db_session()
    round_ids = None
    if round_name is not None:
        found = db.scalar(select(SurveyRound.id).where(SurveyRound.name == round_name))
        if found is None:
            raise click.ClickException(f"no survey round named {round_name!r}")
        round_ids = [found]
    started = time.perf_counter()
    written = analytics.refresh(db, round_ids)
    rounds = len(round_ids) if round_ids is not None else len(analytics.rounds(db))
    click.echo(
        f"{written} area rows over {rounds} round(s) in {time.perf_counter() - started:.1f} s"
    )


@click.command("households")
@click.option("--per-village", type=click.IntRange(1, 200), default=6, show_default=True)
@with_appcontext
def demo_households(per_village: int) -> None:
    """Survey made-up households in the demo cadres' villages, in two rounds, so
    the console's analytics and household search have something to show
    (idempotent; households are named "… (demo)" and have no phone)."""
    from domain.demo_households import add_households
    from domain.surveys import SurveyError

    started = time.perf_counter()
    try:
        added = add_households(db_session(), per_village)
    except SurveyError as exc:
        raise click.ClickException(f"{exc} (run `flask demo load` first)") from exc
    took = time.perf_counter() - started
    click.echo(f"demo households: {added} new, surveyed in two rounds ({took:.1f} s)")

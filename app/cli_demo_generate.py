"""``flask demo generate``: a synthetic population at national scale (``domain.synthetic``).

Exit status: 0 done; 2 refused, nothing changed (SQLite, a population already
there without ``--replace``, another run going on, other data pointing at the
synthetic areas, a database not migrated); 1 an error (the generation rolled
back), or the population was stored but the area statistics could not be
refreshed (the message says how to retry).
"""

from __future__ import annotations

import sys
from time import perf_counter

import click
from flask.cli import with_appcontext
from sqlalchemy import text

from app.db import db_session, ping
from domain import analytics, synthetic


def _refuse(message: str) -> None:
    click.echo(f"flask demo generate: {message}", err=True)
    sys.exit(2)


@click.command("generate")
@click.option(
    "--people",
    required=True,
    type=click.IntRange(synthetic.MIN_PEOPLE, synthetic.MAX_PEOPLE),
    help="People in all (households: about people / 4); 10000000 is Kenya-like.",
)
@click.option(
    "--seed",
    default=1,
    show_default=True,
    type=click.IntRange(0, 2**31 - 1),
    help="Same seed, same population.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Delete the synthetic areas and their data first, then generate.",
)
@with_appcontext
def demo_generate(people: int, seed: int, replace: bool) -> None:
    """Generate a synthetic population in PostgreSQL: 10 provinces of villages,
    households and two survey rounds (synthetic-2025, synthetic-2026), then
    refresh the area statistics. 10,000,000 people take about 3 minutes on 2
    cores and 2.1 GB. Refuses to run twice without --replace."""
    db = db_session()
    if db.get_bind().dialect.name != "postgresql":
        _refuse(
            "needs PostgreSQL; DATABASE_URL is SQLite (set DATABASE_URL=postgresql+psycopg://…)"
        )
    if not ping():
        _refuse(
            "the database is not at the newest migration (or does not answer): run flask migrate"
        )
    the_plan = synthetic.plan(people, seed)

    def announce(progress: synthetic.Generated) -> None:
        if progress.deleted:
            deleted = ", ".join(f"{n:,} {table}" for table, n in progress.deleted.items())
            click.echo(f"replacing: deleted {deleted}")
        click.echo(
            f"generating {people:,} people: {the_plan.households:,} households in"
            f" {the_plan.village_count:,} villages, {the_plan.area_count:,} areas, seed {seed}"
            f" (about {synthetic.estimated_bytes(people) / 1e9:.1f} GB)"
        )

    started = perf_counter()
    try:
        made = synthetic.generate(db, people, seed, replace=replace, checked=announce)
    except synthetic.Refused as exc:
        _refuse(str(exc))
        return
    surveys = ", ".join(f"{n:,} in {name}" for name, n in made.surveys.items())
    click.echo(f"made {made.areas:,} areas, {made.households:,} households, surveys {surveys}")
    step = perf_counter()
    try:
        rows = analytics.refresh(db)
    except Exception as exc:
        db.rollback()
        click.echo(
            f"flask demo generate: the population is stored, but refreshing the area statistics"
            f" failed ({exc}); retry with: flask analytics refresh",
            err=True,
        )
        sys.exit(1)
    made.timings["refresh"] = perf_counter() - step
    size = db.scalar(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    steps = ", ".join(f"{name} {seconds:.1f}" for name, seconds in made.timings.items())
    click.echo(f"area statistics: {rows:,} rows")
    click.echo(f"done in {perf_counter() - started:.1f} s ({steps}); database size {size}")

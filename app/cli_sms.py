"""``flask sms …``: inbound SMS housekeeping."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from app.db import db_session
from domain import inbound


def init_app(app: Flask) -> None:
    app.cli.add_command(sms_group)


@click.group("sms")
def sms_group() -> None:
    """SMS: inbound messages."""


@sms_group.command("retry-inbound")
@with_appcontext
def retry_inbound() -> None:
    """Store the inbound SMS held in Redis while the database was away, then
    enqueue again every inbound SMS still `received` (its job never ran) or
    `failed` (processing raised). Safe to run at any time: a message is
    processed and answered once."""
    from app.sms import release_held
    from workers import INBOUND, enqueue
    from workers.inbound import process_inbound

    released = release_held()  # held in Redis while the database was away
    if released:
        click.echo(f"stored {released} inbound messages held in Redis")
    ids = inbound.retryable(db_session())
    db_session().rollback()  # the jobs open their own transactions
    for inbound_id in ids:
        enqueue(INBOUND, process_inbound, inbound_id)
    click.echo(f"enqueued {len(ids)} inbound messages")

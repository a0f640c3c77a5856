"""``flask org …``: organisations (NGOs, government offices) whose editors manage
their own articles in the console (``flask user add … --role editor --organisation``)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import func, select

from app.db import db_session
from domain.content_admin import ContentError, add_organisation
from models import Article, ConsoleUser, Organisation


def init_app(app: Flask) -> None:
    app.cli.add_command(org_group)


@click.group("org")
def org_group() -> None:
    """Organisations that publish content through their editors."""


@org_group.command("add")
@click.argument("name")
@with_appcontext
def org_add(name: str) -> None:
    """Add an organisation (a name of 1 to 80 characters, unique without case)."""
    db = db_session()
    try:
        organisation = add_organisation(db, name)
    except ContentError as exc:
        db.rollback()
        raise click.ClickException(str(exc)) from exc
    db.commit()
    click.echo(f"organisation {organisation.id}: {organisation.name}")


@org_group.command("list")
@with_appcontext
def org_list() -> None:
    """Every organisation: id, name, editors, articles."""
    db = db_session()
    editors: dict[int | None, int] = {
        org_id: n
        for org_id, n in db.execute(
            select(ConsoleUser.organisation_id, func.count()).group_by(ConsoleUser.organisation_id)
        )
    }
    articles: dict[int | None, int] = {
        org_id: n
        for org_id, n in db.execute(
            select(Article.organisation_id, func.count()).group_by(Article.organisation_id)
        )
    }
    click.echo("id\tname\teditors\tarticles")
    for org in db.scalars(select(Organisation).order_by(Organisation.name)):
        click.echo(f"{org.id}\t{org.name}\t{editors.get(org.id, 0)}\t{articles.get(org.id, 0)}")

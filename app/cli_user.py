"""``flask user …``: console users (add, list, deactivate, activate, unlock, password).

Passwords are asked for hidden, twice, or read from ``NGAZI_USER_PASSWORD`` (for
scripts); never from the command line, where other users and the shell history
would see them.
"""

from __future__ import annotations

import os

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from app.cli_campaign import find_area
from app.db import db_session
from domain import console_users
from domain.console_users import ConsoleUserError
from domain.content_admin import find_organisation
from models import Area, ConsoleRole, ConsoleUser
from models.base import utcnow

PASSWORD_ENV = "NGAZI_USER_PASSWORD"


def init_app(app: Flask) -> None:
    from app import cli_org  # editors' organisations: registered with the users

    app.cli.add_command(user_group)
    cli_org.init_app(app)


@click.group("user")
def user_group() -> None:
    """People who sign in to the web console (/console)."""


def _password() -> str:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    return str(
        click.prompt(
            f"Password (at least {console_users.MIN_PASSWORD} characters)",
            hide_input=True,
            confirmation_prompt=True,
        )
    )


@user_group.command("add")
@click.argument("username")
@click.option("--name", required=True, help="Full name, as colleagues know them.")
@click.option("--role", required=True, type=click.Choice([r.value for r in ConsoleRole]))
@click.option(
    "--area",
    "area_specs",
    multiple=True,
    help="A supervisor's area (repeat the option): County, or County/Village.",
)
@click.option(
    "--organisation",
    "organisation_name",
    help="An editor's organisation (see `flask org list`); they manage its articles.",
)
@with_appcontext
def user_add(
    username: str, name: str, role: str, area_specs: tuple[str, ...], organisation_name: str | None
) -> None:
    """Create a console user; asks for the password (hidden, twice) unless
    NGAZI_USER_PASSWORD is set."""
    db = db_session()
    try:
        areas = [find_area(spec) for spec in area_specs]
        organisation = None
        if organisation_name is not None:
            organisation = find_organisation(db, organisation_name)
            if organisation is None:
                raise ConsoleUserError(
                    f"no organisation {organisation_name!r}: add it with `flask org add`"
                )
        console_users.check_new_user(
            db,
            username=username,
            name=name,
            role=ConsoleRole(role),
            areas=areas,
            organisation=organisation,
        )
        user = console_users.create_user(
            db,
            username=username,
            name=name,
            password=_password(),
            role=ConsoleRole(role),
            areas=areas,
            organisation=organisation,
        )
    except ConsoleUserError as exc:
        db.rollback()
        raise click.ClickException(str(exc)) from exc
    db.commit()
    where = f" ({', '.join(_path(a) for a in user.areas)})" if user.areas else ""
    if user.organisation is not None:
        where = f" ({user.organisation.name})"
    click.echo(f"user {user.id}: {user.username} {user.name}, {user.role.value}{where}")


@user_group.command("list")
@with_appcontext
def user_list() -> None:
    """Every console user: id, username, name, role, status, last sign-in, areas
    (an editor's organisation in that column)."""
    now = utcnow()
    click.echo("id\tusername\tname\trole\tstatus\tlast sign-in\tareas")
    for user in db_session().scalars(select(ConsoleUser).order_by(ConsoleUser.username)):
        if not user.active:
            status = "deactivated"
        elif user.locked_until is not None and user.locked_until > now:
            status = f"locked until {user.locked_until:%Y-%m-%d %H:%M} UTC"
        else:
            status = "active"
        last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        areas = ", ".join(_path(a) for a in user.areas)
        if user.organisation is not None:  # an editor's: in the same column
            areas = user.organisation.name
        click.echo(
            f"{user.id}\t{user.username}\t{user.name}\t{user.role.value}\t{status}\t{last}\t{areas}"
        )


@user_group.command("deactivate")
@click.argument("username")
@with_appcontext
def user_deactivate(username: str) -> None:
    """Stop a user signing in; their open sessions end at their next request."""
    _set_active(username, False)


@user_group.command("activate")
@click.argument("username")
@with_appcontext
def user_activate(username: str) -> None:
    """Let a deactivated user sign in again."""
    _set_active(username, True)


@user_group.command("unlock")
@click.argument("username")
@with_appcontext
def user_unlock(username: str) -> None:
    """Clear a user's failed sign-ins and lock (5 wrong passwords lock for 15 minutes)."""
    db = db_session()
    try:
        user = console_users.unlock(db, username)
    except ConsoleUserError as exc:
        raise click.ClickException(str(exc)) from exc
    db.commit()
    click.echo(f"user {user.username}: unlocked")


@user_group.command("password")
@click.argument("username")
@with_appcontext
def user_password(username: str) -> None:
    """Set a new password (forgotten, or leaked): asks for it like ``user add``.
    Also unlocks the user and ends their open sessions."""
    db = db_session()
    try:
        user = console_users.get_user(db, username)
        console_users.set_password(user, _password())
    except ConsoleUserError as exc:
        db.rollback()
        raise click.ClickException(str(exc)) from exc
    db.commit()
    click.echo(f"user {user.username}: password changed")


def _set_active(username: str, active: bool) -> None:
    db = db_session()
    try:
        user = console_users.set_active(db, username, active)
    except ConsoleUserError as exc:
        raise click.ClickException(str(exc)) from exc
    db.commit()
    click.echo(f"user {user.username}: {'activated' if active else 'deactivated'}")


def _path(area: Area) -> str:
    return f"{area.parent.name}/{area.name}" if area.parent is not None else area.name

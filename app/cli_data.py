"""``flask areas load FILE`` and ``flask content load FILE``: a deployment's own
area tree and content, in the demo files' formats (``demo/areas.yaml``,
``demo/content.yaml``), without the demo's users, cadres, PINs and jobs.

Both upsert: loading a file again adds what is new and changes what changed.
An article last edited in the console is left as the console left it.
"""

from __future__ import annotations

from pathlib import Path

import click
import yaml
from flask import Flask
from flask.cli import with_appcontext

from app.db import db_session
from domain import demo


def init_app(app: Flask) -> None:
    app.cli.add_command(areas_group)
    app.cli.add_command(content_group)


@click.group("areas")
def areas_group() -> None:
    """The area tree: province → county → village."""


@areas_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def areas_load(file: Path) -> None:
    """Add (or keep) the areas of FILE (the format of demo/areas.yaml)."""
    try:
        count = demo.load_areas(db_session(), file)
    except (KeyError, TypeError, yaml.YAMLError) as exc:
        db_session().rollback()
        raise click.ClickException(f"{file}: not an areas file ({exc})") from exc
    click.echo(f"{count} areas in {file}")


@click.group("content")
def content_group() -> None:
    """Categories and articles villagers read (policies, health, education)."""


@content_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def content_load(file: Path) -> None:
    """Add or update the categories and articles of FILE (the format of
    demo/content.yaml, every language); each change is kept as a revision."""
    try:
        count = demo.load_content(db_session(), file)
    except (KeyError, TypeError, ValueError, yaml.YAMLError) as exc:  # RuleError too
        db_session().rollback()
        raise click.ClickException(f"{file}: not a content file ({exc})") from exc
    click.echo(f"{count} articles in {file}")

"""``flask privacy``: a person's data by phone number, and the retention periods.

``export MSISDN [--out FILE]`` writes everything held about the number as JSON
(the right of access); ``erase MSISDN [--yes]`` erases it (the right to erasure;
``domain.privacy`` says what is deleted and what is kept de-identified);
``purge`` applies ``RAW_SMS_RETENTION_DAYS`` and ``AUDIT_RETENTION_DAYS``
(``domain.retention``). Export and erase are recorded in the audit log as done
by ``cli:<OS user>``. An unreadable number exits with status 2. See
docs/privacy.md.

The USSD session lives in Redis under the gateway's session id, not the number:
it is found by reading the (few, five-minute) live sessions, and the caller cache
(``menus.session.CALLER_PREFIX``) by the number.
"""

from __future__ import annotations

import getpass
import json
import os
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.db import db_session
from app.redis_store import get_redis
from domain import privacy, retention
from domain.phone import InvalidMsisdn
from menus.session import CALLER_PREFIX, KEY_PREFIX
from models.base import utcnow


def actor() -> str:
    """``"cli:<OS user>"``: who ran the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"cli:uid-{os.getuid()}"


def ussd_data(msisdn: str) -> tuple[dict[str, Any], list[bytes]]:
    """What Redis holds for ``msisdn``: ``{"sessions": [state…], "caller_cache":
    text or None}``, and the keys that hold it."""
    redis: Any = get_redis()  # bytes in, bytes out (no decode_responses)
    sessions, keys = [], []
    for key in redis.scan_iter(match=KEY_PREFIX + "*", count=1000):
        raw = redis.get(key)  # "<n>|<JSON>" (menus.session)
        try:
            state = json.loads(raw.partition(b"|")[2]) if raw is not None else None
        except ValueError:
            continue
        if isinstance(state, dict) and state.get("msisdn") == msisdn:
            sessions.append(state)
            keys.append(key)
    caller_key = (CALLER_PREFIX + msisdn).encode()
    cached = redis.get(caller_key)
    if cached is not None:
        keys.append(caller_key)
    caller = cached.decode() if cached is not None else None
    return {"sessions": sessions, "caller_cache": caller}, keys


def _number(raw: str) -> str:
    try:
        return privacy.parse(raw, current_app.config["DEFAULT_REGION"])
    except InvalidMsisdn:
        raise click.BadParameter(f"{raw!r} is not a phone number", param_hint="MSISDN") from None


@click.group("privacy")
def privacy_group() -> None:
    """A person's data by phone number (export, erase), and retention (purge)."""


@privacy_group.command("export")
@click.argument("msisdn")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the JSON to this new file (readable by its owner only; an existing "
    "file or a link is refused); default: stdout.",
)
@with_appcontext
def export_command(msisdn: str, out: str | None) -> None:
    """Write everything held about MSISDN as JSON (any form: +2547…, 07…)."""
    number = _number(msisdn)
    db = db_session()
    ussd, _ = ussd_data(number)
    document = privacy.export(db, number, ussd=ussd)
    text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    counts = {
        key: len(value) for key, value in document.items() if isinstance(value, list) and value
    }
    privacy.record(db, actor=actor(), action="privacy.export", msisdn=number, detail=counts)
    if out is None:
        click.echo(text, nl=False)
        return
    # Personal data: a new file, readable by whoever ran the command only. Never
    # an existing file (its mode would stay, and `--out /etc/passwd` as root
    # would replace it) and never through a symbolic link.
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{out} exists: choose a new file") from None
    except OSError as exc:
        raise click.ClickException(f"cannot create {out}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    click.echo(f"wrote {out}", err=True)


@privacy_group.command("erase")
@click.argument("msisdn")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def erase_command(msisdn: str, yes: bool) -> None:
    """Erase MSISDN: delete what is only about them, de-identify what feeds the
    programme's figures (docs/privacy.md). Prints what changed, per table."""
    number = _number(msisdn)
    if not yes:
        click.confirm(f"Erase everything held about {number}? This cannot be undone", abort=True)
    _, keys = ussd_data(number)
    sessions = get_redis().delete(*keys) if keys else 0
    done = privacy.erase(db_session(), number, actor=actor(), sessions=int(sessions))
    for what, rows in done.items():
        click.echo(f"{what}\t{rows}")


@privacy_group.command("purge")
@with_appcontext
def purge_command() -> None:
    """Apply the retention periods now: delete inbound SMS and remove outbound
    texts older than RAW_SMS_RETENTION_DAYS, audit events older than
    AUDIT_RETENTION_DAYS (when not 0). Safe to run at any time, and again."""
    config = current_app.config
    done = retention.purge(
        db_session(),
        utcnow(),
        sms_days=config["RAW_SMS_RETENTION_DAYS"],
        audit_days=config["AUDIT_RETENTION_DAYS"],
    )
    click.echo(f"inbound_sms deleted\t{done.inbound_deleted}")
    click.echo(f"outbound_sms text removed\t{done.outbound_blanked}")
    click.echo(f"audit_event deleted\t{done.audit_deleted}")


def init_app(app: Flask) -> None:
    app.cli.add_command(privacy_group)

"""My household: the record a cadre's survey made, shown to the household head's
own phone behind a PIN they set on first use, with the programmes the
household's classification makes it eligible for.

Setting a PIN takes two screens (enter, confirm). Between them the first
entry's argon2 hash waits in the database as "chosen, not confirmed"; the
session holds neither the PIN nor its hash.
"""

from __future__ import annotations

from collections.abc import Sequence

from babel.dates import format_date

from domain import pins
from domain.households import Record, eligible_programmes, record_for
from domain.translation import N_
from menus import content, pin_entry
from menus.context import Context
from menus.menu import Input, Items, Menu, Option, Outcome, State, translated
from menus.pin_entry import MSG_PIN_FORMAT, MSG_PIN_LOCKED, MSG_PIN_WRONG
from models import Subscriber

MSG_TITLE = N_("My household")
MSG_NONE = N_("No household record for this number yet. It appears after a field officer visits.")
MSG_CHOOSE_PIN = N_("Choose a 4-6 digit PIN to protect your household record:")
MSG_CONFIRM_PIN = N_("Enter the same PIN again:")
MSG_ENTER_PIN = N_("Enter your PIN:")
MSG_PIN_MISMATCH = N_("Not the same PIN.")
MSG_SURVEYED = N_("Surveyed %(date)s in %(village)s.")
MSG_PROGRAMMES = N_("You may qualify for:")
MSG_NO_PROGRAMMES = N_("No programme matches your household now.")
MSG_DETAILS_SMS = N_("Send me the details by SMS")


def _subscriber(ctx: Context, *, fresh: bool = False) -> Subscriber:
    """The caller's row; ``fresh`` reads it again (a PIN check: the lock may have
    been set by another session)."""
    sub = ctx.db.get(Subscriber, ctx.subscriber_id, populate_existing=fresh)
    assert sub is not None
    return sub


def _has_record(ctx: Context) -> bool:
    """Whether a household is headed from this number (the three routes of "My
    household" ask in turn: read once per callback)."""
    return bool(ctx.memo("has_household", lambda: record_for(ctx.db, ctx.msisdn) is not None))


def no_record(ctx: Context) -> bool:
    return not _has_record(ctx)


def needs_pin(ctx: Context) -> bool:
    return _has_record(ctx) and not pins.has_pin(_subscriber(ctx))


def has_pin(ctx: Context) -> bool:
    return _has_record(ctx) and pins.has_pin(_subscriber(ctx))


def _choose(ctx: Context, text: str) -> Outcome:
    if not pins.valid_pin(text):
        return Outcome(error=ctx.gettext(MSG_PIN_FORMAT))
    pins.choose_pin(_subscriber(ctx), text)
    ctx.db.commit()
    return Outcome(leave=True)


def _confirm(ctx: Context, text: str) -> Outcome:
    if not pins.confirm_pin(_subscriber(ctx), text):  # try again, or 0 to choose another
        ctx.db.rollback()
        return Outcome(error=ctx.gettext(MSG_PIN_MISMATCH))
    ctx.db.commit()
    ctx.data["household_open"] = True
    return Outcome(leave=True)


def _enter(ctx: Context, text: str) -> Outcome:
    error = pin_entry.verify(ctx, _subscriber(ctx, fresh=True), text)
    if error is not None:
        return Outcome(error=ctx.gettext(error))
    ctx.data["household_open"] = True
    return Outcome(leave=True)


def _record(ctx: Context) -> Record | None:
    """The caller's household record once the PIN opened it (read once per callback)."""
    if not ctx.data.get("household_open"):
        return None
    found: Record | None = ctx.memo("household_record", lambda: record_for(ctx.db, ctx.msisdn))
    return found


def _record_title(ctx: Context) -> str:
    record = _record(ctx)
    return record.head_name if record else ctx.gettext(MSG_TITLE)


def _record_body(ctx: Context) -> str:
    _ = ctx.gettext
    record = _record(ctx)
    if record is None:
        return _(MSG_NONE)
    when = format_date(record.surveyed_at.date(), format="medium", locale=_locale(ctx.language))
    lines = [_(MSG_SURVEYED) % {"date": when, "village": record.village}]
    lines.append(_(MSG_PROGRAMMES) if _programmes(ctx) else _(MSG_NO_PROGRAMMES))
    return "\n".join(lines)


def _locale(language: str) -> str:
    return {"zh": "zh_Hans_CN"}.get(language, language)


def _programmes(ctx: Context) -> Sequence[tuple[int, str]]:
    record = _record(ctx)
    if record is None:
        return []
    found: Sequence[tuple[int, str]] = ctx.memo(
        "household_programmes",
        lambda: eligible_programmes(ctx.db, record.survey, ctx.language),
    )
    return found


MENU = Menu(
    name="household",
    states=[
        State("none", MSG_TITLE, body=MSG_NONE, back="main:home"),
        State(
            "choose_pin",
            MSG_TITLE,
            body=MSG_CHOOSE_PIN,
            input=Input(
                accept=_choose, dest="confirm_pin", hints=translated(MSG_PIN_FORMAT), secret=True
            ),
            back="main:home",
        ),
        State(
            "confirm_pin",
            MSG_TITLE,
            body=MSG_CONFIRM_PIN,
            input=Input(
                accept=_confirm,
                dest="record",
                hints=translated(MSG_PIN_MISMATCH),
                secret=True,
            ),
            back="choose_pin",
        ),
        State(
            "pin",
            MSG_TITLE,
            body=MSG_ENTER_PIN,
            input=Input(
                accept=_enter,
                dest="record",
                hints=translated(MSG_PIN_FORMAT, MSG_PIN_WRONG, MSG_PIN_LOCKED),
                secret=True,
            ),
            back="main:home",
        ),
        State(
            "record",
            _record_title,
            body=_record_body,
            items=Items(_programmes, key="article", dest="programme"),
            back="main:home",
        ),
        State(
            "programme",
            content.article_title,
            body=content.article_body,
            options=(Option("1", MSG_DETAILS_SMS, "sent", content.send_article_by_sms),),
            back="record",
        ),
        State("sent", content.article_title, body=content.sent_body, back="programme"),
    ],
)

"""The staff menu: a cadre signs in with a PIN, sees their progress and drafts,
and surveys households.

Only a number registered as a cadre sees "Staff" on the main menu, and every
staff screen is behind the PIN screen of the same session: a villager's number
never reaches them. The PIN is checked and dropped: the session keeps ``#`` in
its place (``Input.secret``) and only the cadre's id once it checks out.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain import surveys
from domain.cadres import cadre_id_for, village_choices
from domain.households import households_in, progress
from domain.translation import N_
from menus import pin_entry, staff_sms, survey
from menus.context import Context
from menus.menu import Input, Items, Menu, Option, Outcome, State, translated
from models import Cadre, SurveyDraft

MSG_STAFF = N_("Staff")
MSG_SIGN_IN = N_("Enter your staff PIN:")
MSG_INACTIVE = N_("Not active. Ask your office.")
MSG_CONTINUE = N_("Continue %(name)s at Q%(n)d")
MSG_A_HOUSEHOLD = N_("household")
MSG_DRAFTS = N_("Open drafts (%(n)d)")
MSG_AGAIN = N_("Survey again")
MSG_PROGRESS = N_("%(done)d of %(total)d households surveyed in %(village)s this round.")
MSG_PROGRESS_SHORT = N_("Surveyed this round:")
MSG_NO_SURVEY = N_("No survey is open. Ask your office.")
MSG_PICK_VILLAGE = N_("Which village?")
MSG_DRAFTS_TITLE = N_("Open drafts")


def is_cadre(ctx: Context) -> bool:
    return cadre_id_for(ctx.db, ctx.msisdn) is not None


def _pin(ctx: Context, text: str) -> Outcome:
    """Check the PIN typed; on success remember the cadre (never the PIN)."""
    _ = ctx.gettext
    cadre_id = cadre_id_for(ctx.db, ctx.msisdn)
    # Fresh from the database: the lock may have been set by another session.
    cadre = ctx.db.get(Cadre, cadre_id, populate_existing=True) if cadre_id is not None else None
    if cadre is None or not cadre.active:
        ctx.db.rollback()
        return Outcome(error=_(MSG_INACTIVE))
    error = pin_entry.verify(ctx, cadre, text)
    if error is not None:
        return Outcome(error=_(error))
    ctx.data["cadre"] = cadre.id
    return Outcome(leave=True)


def _home_title(ctx: Context) -> str:
    cadre = ctx.db.get(Cadre, ctx.data["cadre"])
    return cadre.name if cadre else ctx.gettext(MSG_STAFF)


def _home_body(ctx: Context) -> str:
    _ = ctx.gettext
    try:
        round_id = surveys.current_round_id(ctx.db)
    except surveys.SurveyError:
        return _(MSG_NO_SURVEY)
    villages = progress(ctx.db, ctx.data["cadre"], round_id)
    if len(villages) == 1:
        p = villages[0]
        return _(MSG_PROGRESS) % {"done": p.surveyed, "total": p.households, "village": p.village}
    counts = ", ".join(f"{p.village} {p.surveyed}/{p.households}" for p in villages)
    return f"{_(MSG_PROGRESS_SHORT)} {counts}"


def _drafts(ctx: Context) -> list[SurveyDraft]:
    drafts: list[SurveyDraft] = ctx.memo(
        "drafts", lambda: surveys.open_drafts(ctx.db, ctx.data["cadre"])
    )
    return drafts


def _has_draft(ctx: Context) -> bool:
    return bool(_drafts(ctx))


def _continue_label(ctx: Context) -> str:
    draft = _drafts(ctx)[0]
    name = (draft.label or ctx.gettext(MSG_A_HOUSEHOLD))[:20]
    return ctx.gettext(MSG_CONTINUE) % {"name": name, "n": draft.question_no}


def _drafts_label(ctx: Context) -> str:
    return ctx.gettext(MSG_DRAFTS) % {"n": len(_drafts(ctx))}


def _several_drafts(ctx: Context) -> bool:
    return len(_drafts(ctx)) > 1


def _draft_items(ctx: Context) -> Sequence[tuple[int, str]]:
    return [
        (d.id, f"{(d.label or ctx.gettext(MSG_A_HOUSEHOLD))[:20]} Q{d.question_no}")
        for d in _drafts(ctx)
    ]


def _villages(ctx: Context) -> Sequence[tuple[int, str]]:
    return village_choices(ctx.db, ctx.data["cadre"])


def _households(ctx: Context) -> Sequence[tuple[int, str]]:
    mine = {area_id for area_id, _name in _villages(ctx)}
    village = ctx.data.get("village")
    return households_in(ctx.db, village) if village in mine else []


def _has_villages(ctx: Context) -> bool:
    return bool(_villages(ctx))


def _village_title(ctx: Context) -> str:
    names = dict(_villages(ctx))
    return names.get(ctx.data.get("village", 0), "")


MENU = Menu(
    name="staff",
    requires=survey.signed_in,
    public=frozenset({"pin"}),
    states=[
        State(
            "pin",
            MSG_STAFF,
            body=MSG_SIGN_IN,
            input=Input(
                accept=_pin,
                dest="home",
                hints=translated(
                    pin_entry.MSG_PIN_FORMAT, MSG_INACTIVE, *pin_entry.VERDICTS.values()
                ),
                secret=True,
            ),
            back="main:home",
        ),
        State(
            "home",
            _home_title,
            body=_home_body,
            options=(
                Option("1", _continue_label, "survey:question", survey.resume, when=_has_draft),
                Option("2", survey.MSG_NEW, "survey:question", survey.start_new, when=survey.ready),
                Option("3", _drafts_label, "drafts", when=_several_drafts),
                Option("4", MSG_AGAIN, "again_village", when=survey.ready),
                Option("5", staff_sms.MSG_SEND_SMS, "staff_sms:template", when=_has_villages),
            ),
            back="main:home",
        ),
        State(
            "drafts",
            MSG_DRAFTS_TITLE,
            items=Items(_draft_items, key="draft", dest="survey:question", effect=survey.resume),
            back="home",
        ),
        State(
            "again_village",
            MSG_PICK_VILLAGE,
            items=Items(_villages, key="village", dest="again_household"),
            back="home",
        ),
        State(
            "again_household",
            _village_title,
            items=Items(
                _households, key="household", dest="survey:question", effect=survey.start_new
            ),
            back="again_village",
            empty=N_("No households registered here yet."),
        ),
    ],
)

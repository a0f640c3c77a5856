"""A survey over USSD: one question per screen, from the survey's definition.

The questions are data (``domain.xlsform``); this menu has one state that shows
whichever question the draft is at, and takes its answer. Every answer is
written to the draft in the database as it is given (``domain.surveys``), so a
dropped session continues exactly there from the staff menu.

Session data: ``ctx.data["survey"]`` = ``{"key", "sid", "hh", "ans", "pos"}``
(draft key, survey id, household being surveyed again or None, answers,
position), replaced as a whole on every change so a held-back effect sees the
answers of its own hop.
"""

from __future__ import annotations

import logging
from typing import Any

from domain import surveys
from domain.cadres import village_choices
from domain.classification import classify
from domain.households import complete_survey
from domain.surveys import (
    HINT_ANSWER,
    HINT_CHOICE,
    HINT_CHOICES,
    HINT_DATE,
    HINT_INVALID,
    HINT_NUMBER,
    HINT_TEXT,
)
from domain.translation import N_
from domain.xlsform import VILLAGES_LIST, Form, Question, Repeat, label
from menus.context import Context
from menus.menu import Input, Menu, Option, Outcome, State
from models import Cadre, Household
from workers import DEFAULT, enqueue
from workers.analytics import refresh_villages

#: The header line: the question's number (and whose, in a repeat group).
MSG_QUESTION = N_("Q%(n)d")
MSG_SAVED = N_("Household saved: %(name)s.")
MSG_SCORE = N_("Deprivation score %(pct)d%%:")
MSG_POOR = N_("MPI poor.")
MSG_SEVERE = N_("MPI poor, severe.")
MSG_VULNERABLE = N_("Vulnerable to poverty.")
MSG_NOT_POOR = N_("Not MPI poor.")
MSG_NEW = N_("New household")
MSG_NO_ROUND = N_("No round open. Ask office.")
MSG_CANNOT_CLASSIFY = N_("Saved. Cannot finish: call office.")

#: The hints each type of question can give (``surveys.parse_answer``), besides
#: the constraint's: every screen keeps room for the longest.
_HINTS_BY_TYPE = {
    "integer": (HINT_ANSWER, HINT_NUMBER),
    "decimal": (HINT_ANSWER, HINT_NUMBER),
    "select_one": (HINT_ANSWER, HINT_CHOICE),
    "select_multiple": (HINT_ANSWER, HINT_CHOICES),
    "date": (HINT_ANSWER, HINT_DATE),
    "text": (HINT_ANSWER, HINT_TEXT, HINT_INVALID),
}
#: The longest name shown in the header of a repeat group's question.
NAME_IN_HEADER = 10
#: The form cadres fill in (``form_id`` in the XLSForm's settings).
HOUSEHOLD_FORM = "household"

log = logging.getLogger(__name__)


def signed_in(ctx: Context) -> bool:
    """This session signed in with a PIN, and its cadre is still active (read on
    every staff input: a cadre deactivated is out at their next one)."""
    cadre_id = ctx.data.get("cadre")
    cadre = ctx.db.get(Cadre, cadre_id) if cadre_id is not None else None
    return cadre is not None and cadre.active and cadre.msisdn == ctx.msisdn


def ready(ctx: Context) -> bool:
    """Whether a household survey can start: a form loaded, a round open, and
    villages assigned to the cadre (the first question picks one)."""
    try:
        surveys.current_survey_id(ctx.db, HOUSEHOLD_FORM)
        surveys.current_round_id(ctx.db)
    except surveys.SurveyError:
        return False
    return bool(village_choices(ctx.db, ctx.data["cadre"]))


def start_new(ctx: Context) -> None:
    """Open a draft for a new household (or, with ``ctx.data["household"]`` set
    by the re-survey list, for that household again) at the first question."""
    sid = surveys.current_survey_id(ctx.db, HOUSEHOLD_FORM)
    form = surveys.form_for(ctx.db, sid)
    household = ctx.data.pop("household", None)
    ctx.data.pop("result", None)
    ctx.data["survey"] = {
        "key": ctx.effect_key(),  # the same for a repeated callback: one draft
        "sid": sid,
        "hh": household,
        "ans": {},
        "pos": surveys.first_position(form, {}),
    }
    ctx.run(save)


def resume(ctx: Context) -> None:
    """Continue the draft ``ctx.data["draft"]`` (the latest when not set) exactly
    where it stopped."""
    drafts = surveys.open_drafts(ctx.db, ctx.data["cadre"])
    wanted = ctx.data.pop("draft", None)
    draft = next((d for d in drafts if d.id == wanted or wanted is None), None)
    if draft is None:  # gone (completed on another phone, expired): start afresh
        start_new(ctx)
        return
    form = surveys.form_for(ctx.db, draft.survey_id)
    position = list(draft.position)
    try:
        surveys.question_at(form, position)
    except KeyError:
        position = surveys.first_position(form, draft.answers) or position
    ctx.data.pop("result", None)
    ctx.data["survey"] = {
        "key": draft.key,
        "sid": draft.survey_id,
        "hh": draft.household_id,
        "ans": dict(draft.answers),
        "pos": position,
    }


def _sv(ctx: Context) -> dict[str, Any]:
    sv: dict[str, Any] = ctx.data["survey"]
    return sv


def _form(ctx: Context) -> Form:
    return surveys.form_for(ctx.db, _sv(ctx)["sid"])


def _question(ctx: Context) -> Question:
    return surveys.question_at(_form(ctx), _sv(ctx)["pos"])


def _number(ctx: Context) -> int:
    """The current question's number in the flow (worked out once per answer)."""
    sv = _sv(ctx)
    key = ("question_number", id(sv["ans"]), tuple(sv["pos"]))
    return int(ctx.memo(key, lambda: surveys.question_number(_form(ctx), sv["ans"], sv["pos"])))


def _villages(ctx: Context, q: Question) -> list[tuple[int, str]]:
    return village_choices(ctx.db, ctx.data["cadre"]) if q.list_name == VILLAGES_LIST else []


def header(ctx: Context) -> str:
    """``Q14``, or ``Q14 Mary 2/5`` in a repeat group (the instance's first text
    answer, then which instance of how many)."""
    sv, form = _sv(ctx), _form(ctx)
    pos = sv["pos"]
    text = ctx.gettext(MSG_QUESTION) % {"n": _number(ctx)}
    if len(pos) == 3:
        node = next(n for n in form.children if n.name == pos[0])
        assert isinstance(node, Repeat)
        items = sv["ans"].get(pos[0]) or []
        item = items[pos[1]] if pos[1] < len(items) else {}
        first_text = next((q.name for q in node.children if q.type == "text"), None)
        name = str(item.get(first_text, "")) if first_text and first_text != pos[2] else ""
        name = name.split(" ")[0]  # the first name: "Mary", not "Mary Akiny"
        count = surveys.repeat_count(node, sv["ans"])
        parts = (text, name[:NAME_IN_HEADER].strip(), f"{pos[1] + 1}/{count}")
        text = " ".join(p for p in parts if p)
    return text


def question_label(ctx: Context) -> str:
    form = _form(ctx)
    return label(_question(ctx).labels, ctx.language, form.default_language)


def choice_lines(ctx: Context) -> tuple[str, ...]:
    """The choices, numbered; yes/no on one line (``1 Yes 2 No``) to save room."""
    q, form = _question(ctx), _form(ctx)
    if not q.type.startswith("select"):
        return ()
    if q.list_name == VILLAGES_LIST:
        return tuple(f"{i} {name}" for i, (_id, name) in enumerate(_villages(ctx, q), 1))
    labels = [label(c.labels, ctx.language, form.default_language) for c in q.choices]
    if q.yes_no:
        return (f"1 {labels[0]} 2 {labels[1]}",)
    return tuple(f"{i}{_gap(text)}{text}" for i, text in enumerate(labels, 1))


def _gap(text: str) -> str:
    """A space between a choice's number and its label, except before Chinese,
    where the number stands apart without one (room for ten choices)."""
    return "" if text[:1] >= "\u2e80" else " "


def hints(ctx: Context) -> tuple[str, ...]:
    q, form = _question(ctx), _form(ctx)
    out = [ctx.gettext(h) for h in _HINTS_BY_TYPE[q.type]]
    if q.constraint_messages:
        out.append(label(q.constraint_messages, ctx.language, form.default_language))
    elif q.constraint:
        out.append(ctx.gettext(HINT_INVALID))
    return tuple(out)


def zero_answers(ctx: Context) -> bool:
    sv = _sv(ctx)
    return surveys.zero_is_an_answer(_question(ctx), sv["ans"], sv["pos"])


def accept(ctx: Context, text: str) -> Outcome:
    """Check one answer, keep it, and move to the next question (or finish)."""
    sv, form = dict(_sv(ctx)), _form(ctx)
    q = surveys.question_at(form, sv["pos"])
    parsed = surveys.parse_answer(
        q,
        text,
        answers=sv["ans"],
        position=sv["pos"],
        language=ctx.language,
        fallback=form.default_language,
        villages=_villages(ctx, q),
    )
    if parsed.hint is not None:
        return Outcome(error=ctx.gettext(parsed.hint))
    sv["ans"] = surveys.with_answer(sv["ans"], sv["pos"], parsed.value)
    ctx.data["survey"] = sv
    following = surveys.next_position(form, sv["ans"], sv["pos"])
    if following is None:
        # The last answer: kept in the draft whatever happens next.
        ctx.run(save)
        try:
            surveys.current_round_id(ctx.db)
            result = classify(surveys.finished(form, sv["ans"]))
        except surveys.SurveyError:
            return Outcome(error=ctx.gettext(MSG_NO_ROUND))
        except ValueError:  # a form version the classifier cannot read: a bug to fix
            log.exception("survey %s: answers the classifier rejects", sv["sid"])
            return Outcome(error=ctx.gettext(MSG_CANNOT_CLASSIFY))
        ctx.data["result"] = {
            "name": sv["ans"].get("head_name", ""),
            "pct": int(result.score * 100),
            "poor": result.poor,
            "severe": result.severe,
            "vulnerable": result.vulnerable,
        }
        ctx.run(_complete)
        return Outcome(leave=True)
    sv["pos"] = following
    ctx.run(save)
    return Outcome()


def back(ctx: Context) -> bool:
    """Step back to the previous question; False at the first."""
    sv, form = dict(_sv(ctx)), _form(ctx)
    before = surveys.previous_position(form, sv["ans"], sv["pos"])
    if before is None:
        return False
    sv["pos"] = before
    ctx.data["survey"] = sv
    ctx.run(save)
    return True


def save(ctx: Context) -> None:
    """Write the draft as it stands (an effect: runs once per hop)."""
    sv = _sv(ctx)
    surveys.save_draft(
        ctx.db,
        key=sv["key"],
        cadre_id=ctx.data["cadre"],
        survey_id=sv["sid"],
        answers=sv["ans"],
        position=sv["pos"],
        question_no=_number(ctx),
        label=sv["ans"].get("head_name"),
        household_id=sv.get("hh"),
    )


def _complete(ctx: Context) -> None:
    sv = _sv(ctx)
    round_id = surveys.current_round_id(ctx.db)
    before = ctx.db.get(Household, sv["hh"]) if sv.get("hh") else None
    villages = [before.area_id] if before is not None else []  # a household may move
    done = complete_survey(
        ctx.db,
        key=sv["key"],
        cadre_id=ctx.data["cadre"],
        survey_id=sv["sid"],
        round_id=round_id,
        answers=sv["ans"],
        household_id=sv.get("hh"),
    )
    after = ctx.db.get(Household, done.household_id)
    if after is not None:
        villages.append(after.area_id)
    try:
        enqueue(DEFAULT, refresh_villages, round_id, sorted(set(villages)))
    except Exception:  # the survey is stored; `flask analytics refresh` catches up
        log.exception("could not queue the analytics refresh of villages %s", villages)


def done_body(ctx: Context) -> str:
    _ = ctx.gettext
    result = ctx.data.get("result") or {}
    if result.get("severe"):
        status = _(MSG_SEVERE)
    elif result.get("poor"):
        status = _(MSG_POOR)
    elif result.get("vulnerable"):
        status = _(MSG_VULNERABLE)
    else:
        status = _(MSG_NOT_POOR)
    score = _(MSG_SCORE) % {"pct": result.get("pct", 0)}
    return f"{score} {status}"


def done_title(ctx: Context) -> str:
    name = str((ctx.data.get("result") or {}).get("name", ""))
    return ctx.gettext(MSG_SAVED) % {"name": name[:20]}


MENU = Menu(
    name="survey",
    requires=signed_in,
    states=[
        State(
            "question",
            header,
            body=question_label,
            lines=choice_lines,
            input=Input(
                accept=accept,
                dest="done",
                back=back,
                zero_answers=zero_answers,
                hints=hints,
            ),
            back="staff:home",
        ),
        State(
            "done",
            done_title,
            body=done_body,
            options=(Option("2", MSG_NEW, "question", start_new),),  # as on the staff menu
            back="staff:home",
        ),
    ],
)

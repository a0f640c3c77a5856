"""Running a survey one answer at a time: definitions, the question flow, typed
answers, and drafts that survive a dropped session.

Answers are one JSON dict: a question's name → its value (int for integer,
the choice name for select_one, a list of names for select_multiple,
``"YYYY-MM-DD"`` for date, str for text); a repeat group's name → a list of
such dicts, one per instance. A question whose ``relevant`` is false is not
asked, and its answer is dropped on completion (as ODK does).

A *position* is the path of the current question: ``["village"]`` or
``["member", 1, "m_age"]`` (the second member's age). The flow is worked out
from the answers each time, so changing an earlier answer (fewer members, a
different water source) changes what comes next.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from domain import xlsform_expr
from domain.sql import upsert
from domain.translation import N_
from domain.xlsform import VILLAGES_LIST, Form, Question, Repeat, build_form
from models import Survey, SurveyDraft, SurveyRound
from models.base import utcnow

#: Drafts not touched for this long are dropped (issue #3: two weeks).
DRAFT_TTL = timedelta(days=14)
#: The most instances a repeat may have, whatever its count says.
MAX_REPEAT = 30
MAX_TEXT = 80

Position = list[Any]  # [name] or [repeat name, index, name]

# One-line hints, at most 24 characters in every language (they replace the
# screen's header line).
HINT_ANSWER = N_("Please answer.")
HINT_NUMBER = N_("Enter a number.")
HINT_CHOICE = N_("Not on the list.")
HINT_CHOICES = N_("Choose e.g. 1,3")
HINT_DATE = N_("Date as DDMMYYYY")
HINT_INVALID = N_("Invalid answer.")
HINT_TEXT = N_("Too long.")


class SurveyError(LookupError):
    """No survey definition, or no open round, to work with."""


# -- definitions and rounds ------------------------------------------------------


def store_definition(db: Session, definition: dict[str, Any]) -> Survey:
    """Keep pyxform's JSON for a form version (once per form and version; a
    version already stored is returned unchanged). Raises ``FormError``."""
    form = build_form(definition)
    found = db.scalars(
        select(Survey).where(Survey.form_id == form.form_id, Survey.version == form.version)
    ).one_or_none()
    if found is not None:
        return found
    survey = Survey(
        form_id=form.form_id, version=form.version, title=form.title, definition=definition
    )
    db.add(survey)
    db.flush()
    return survey


#: Parsed definitions by survey id: a stored version never changes.
_forms: dict[int, Form] = {}


def form_for(db: Session, survey_id: int) -> Form:
    """The ``Form`` of a stored survey version (parsed once per process);
    raises ``SurveyError`` when there is no such survey."""
    cached = _forms.get(survey_id)
    if cached is not None:
        return cached
    survey = db.get(Survey, survey_id)
    if survey is None:
        raise SurveyError(f"no survey {survey_id}")
    form = _forms[survey_id] = build_form(survey.definition)
    return form


def current_survey_id(db: Session, form_id: str) -> int:
    """The newest stored version of ``form_id``; raises ``SurveyError``."""
    found = db.scalar(
        select(Survey.id).where(Survey.form_id == form_id).order_by(Survey.id.desc()).limit(1)
    )
    if found is None:
        raise SurveyError(f"no survey {form_id!r} loaded: run `flask survey load FILE`")
    return found


def open_round(db: Session, name: str) -> SurveyRound:
    """Open (or find) the round called ``name``; the newest round is current."""
    found = db.scalars(select(SurveyRound).where(SurveyRound.name == name)).one_or_none()
    if found is None:
        found = SurveyRound(name=name, opened_at=utcnow())
        db.add(found)
        db.flush()
    return found


def current_round_id(db: Session) -> int:
    """The newest round's id; raises ``SurveyError`` when none is open."""
    found = db.scalar(
        select(SurveyRound.id).order_by(SurveyRound.opened_at.desc(), SurveyRound.id.desc())
    )
    if found is None:
        raise SurveyError("no survey round open: run `flask survey round NAME`")
    return found


# -- the flow ------------------------------------------------------------------------


def _resolver(answers: dict[str, Any], position: Position | None, dot: Any = None) -> Any:
    """Names resolve in the current repeat instance first, then at the top."""
    scope: dict[str, Any] = {}
    if position is not None and len(position) == 3:
        items = answers.get(position[0]) or []
        if position[1] < len(items):
            scope = items[position[1]]

    def resolve(name: str) -> Any:
        if name == ".":
            return dot
        if name in scope:
            return scope[name]
        return answers.get(name)

    return resolve


def repeat_count(node: Repeat, answers: dict[str, Any]) -> int:
    """How many instances ``node`` has now: its ``repeat_count`` expression,
    clamped to 0–``MAX_REPEAT``; 0 while what it counts is unanswered."""
    value = xlsform_expr.evaluate(node.count, _resolver(answers, None))
    number = value if isinstance(value, float) else math.nan
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
    if not math.isfinite(number):
        return 0
    return max(0, min(MAX_REPEAT, int(number)))


def _relevant(expr: str | None, answers: dict[str, Any], position: Position) -> bool:
    return not expr or xlsform_expr.truth(expr, _resolver(answers, position))


def flow(form: Form, answers: dict[str, Any]) -> Iterator[Position]:
    """Every question to ask, in order, given the answers so far.

    As in ODK, an answer to a question that is not relevant (any more) counts as
    empty: skip logic and repeat counts read only the answers of questions asked
    before them in this flow (a member whose age was corrected from 30 to 70 is
    not asked whether they work away, whatever was answered before).
    """
    live: dict[str, Any] = {}
    for node in form.children:
        if isinstance(node, Question):
            if _relevant(node.relevant, live, [node.name]):
                yield [node.name]
                if node.name in answers:
                    live[node.name] = answers[node.name]
            continue
        if not _relevant(node.relevant, live, [node.name]):
            continue
        given = answers.get(node.name) or []
        items: list[dict[str, Any]] = []
        count = repeat_count(node, live)
        live[node.name] = items
        for i in range(count):
            item: dict[str, Any] = {}
            items.append(item)
            source = given[i] if i < len(given) and isinstance(given[i], dict) else {}
            for q in node.children:
                if _relevant(q.relevant, live, [node.name, i, q.name]):
                    yield [node.name, i, q.name]
                    if q.name in source:
                        item[q.name] = source[q.name]


def _order(form: Form, position: Position) -> tuple[int, int, int]:
    """A sort key for document order: (top-level index, instance, child index)."""
    top, _ = form.order.get(position[0], (len(form.children), 0))
    if len(position) == 3:
        return (top, int(position[1]), form.order.get(position[2], (top, 0))[1])
    return (top, 0, 0)


def first_position(form: Form, answers: dict[str, Any]) -> Position | None:
    return next(flow(form, answers), None)


def next_position(form: Form, answers: dict[str, Any], position: Position) -> Position | None:
    """The question after ``position`` (None when the survey is complete)."""
    here = _order(form, position)
    for pos in flow(form, answers):
        if _order(form, pos) > here:
            return pos
    return None


def previous_position(form: Form, answers: dict[str, Any], position: Position) -> Position | None:
    """The question before ``position`` (None at the first)."""
    here, before = _order(form, position), None
    for pos in flow(form, answers):
        if _order(form, pos) >= here:
            break
        before = pos
    return before


def question_number(form: Form, answers: dict[str, Any], position: Position) -> int:
    """``position``'s number in the flow, from 1."""
    here, number = _order(form, position), 1
    for pos in flow(form, answers):
        if _order(form, pos) >= here:
            break
        number += 1
    return number


def question_at(form: Form, position: Position) -> Question:
    for node in form.children:
        if node.name != position[0]:
            continue
        if isinstance(node, Question):
            return node
        for q in node.children:
            if q.name == position[-1]:
                return q
    raise KeyError(position)


def answer_at(answers: dict[str, Any], position: Position) -> Any:
    if len(position) == 1:
        return answers.get(position[0])
    items = answers.get(position[0]) or []
    return items[position[1]].get(position[2]) if position[1] < len(items) else None


def with_answer(answers: dict[str, Any], position: Position, value: Any) -> dict[str, Any]:
    """A copy of ``answers`` with ``value`` at ``position`` (what it changes is
    copied; the rest is shared, and never changed in place)."""
    out = dict(answers)
    if len(position) == 1:
        out[position[0]] = value
        return out
    items = list(out.get(position[0]) or [])
    while len(items) <= position[1]:
        items.append({})
    items[position[1]] = {**items[position[1]], position[2]: value}
    out[position[0]] = items
    return out


def finished(form: Form, answers: dict[str, Any]) -> dict[str, Any]:
    """The answers as submitted: only what the flow asks (irrelevant answers and
    instances beyond a repeat's count dropped). Raises ``ValueError`` naming a
    required question still unanswered."""
    out: dict[str, Any] = {}
    for pos in flow(form, answers):
        value = answer_at(answers, pos)
        if value is None and question_at(form, pos).required:
            raise ValueError(f"unanswered: {'/'.join(str(p) for p in pos)}")
        if value is not None:
            out = with_answer(out, pos, value)
    return out


# -- one typed answer ----------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    value: Any = None
    hint: str | None = None  # a msgid, or a constraint message already in the language


_SEPARATORS = re.compile(r"[\s,.;#/+-]+")
_DATE = re.compile(r"(\d{1,2})\D(\d{1,2})\D(\d{4})|(\d{2})(\d{2})(\d{4})")


def choices_for(q: Question, villages: Sequence[tuple[int, str]]) -> list[tuple[str, str]]:
    """``[(value, label)]`` for a select question; the cadre's villages for
    ``select_one cadre_villages``."""
    if q.list_name == VILLAGES_LIST:
        return [(str(area_id), name) for area_id, name in villages]
    return [(c.name, "") for c in q.choices]


def parse_answer(
    q: Question,
    text: str,
    *,
    answers: dict[str, Any],
    position: Position,
    language: str,
    fallback: str,
    villages: Sequence[tuple[int, str]] = (),
) -> Parsed:
    """Read one typed answer for ``q``; a ``hint`` says what is wrong.

    Integer: ASCII digits, optional minus. Select one: a listed number. Select
    multiple: listed numbers separated by a comma, space or dot (``1,3``;
    each once). Date: ``DDMMYYYY``, or day, month and year with any separator.
    Text: 1–80 characters, spaces tidied. Then the question's ``constraint``,
    with its message when it fails. An empty reply is an answer (None) only to
    a question that is not required.
    """
    text = text.strip()
    if not text:  # an empty reply skips a question that is not required
        return Parsed(hint=HINT_ANSWER) if q.required else Parsed(value=None)
    value: Any
    if q.type in ("integer", "decimal"):
        pattern = r"-?\d{1,9}" if q.type == "integer" else r"-?\d{1,9}([.,]\d{1,6})?"
        if not (text.isascii() and re.fullmatch(pattern, text)):
            return Parsed(hint=HINT_NUMBER)
        value = int(text) if q.type == "integer" else float(text.replace(",", "."))
    elif q.type == "select_one":
        options = choices_for(q, villages)
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= len(options)):
            return Parsed(hint=HINT_CHOICE)
        value = options[int(text) - 1][0]
    elif q.type == "select_multiple":
        options = choices_for(q, villages)
        picked = [p for p in _SEPARATORS.split(text) if p]
        if not picked or not all(p.isascii() and p.isdigit() for p in picked):
            return Parsed(hint=HINT_CHOICES)
        numbers = [int(p) for p in picked]
        if len(set(numbers)) != len(numbers) or not all(1 <= n <= len(options) for n in numbers):
            return Parsed(hint=HINT_CHOICES)
        value = [options[n - 1][0] for n in sorted(numbers)]
    elif q.type == "date":
        parsed = _date(text)
        if parsed is None:
            return Parsed(hint=HINT_DATE)
        value = parsed.isoformat()
    else:  # text
        value = " ".join(text.split())
        if len(value) > MAX_TEXT or not value.isprintable():
            return Parsed(hint=HINT_TEXT if len(value) > MAX_TEXT else HINT_INVALID)
    if q.constraint and not xlsform_expr.truth(
        q.constraint, _resolver(answers, position, dot=value)
    ):
        from domain.xlsform import label

        message = label(q.constraint_messages, language, fallback) if q.constraint_messages else ""
        return Parsed(hint=message or HINT_INVALID)
    return Parsed(value=value)


def _date(text: str) -> date | None:
    m = _DATE.fullmatch(text)
    if not m or not text.isascii():
        return None
    day, month, year = (int(g) for g in (m.group(1, 2, 3) if m.group(1) else m.group(4, 5, 6)))
    if not 1900 <= year <= 2100:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def zero_is_an_answer(q: Question, answers: dict[str, Any], position: Position) -> bool:
    """True when ``0`` is a valid answer to ``q`` (a number whose constraint
    admits it): then the screen takes ``0`` as the answer and ``00`` as back."""
    if q.type not in ("integer", "decimal"):
        return False
    if not q.constraint:
        return True
    return xlsform_expr.truth(q.constraint, _resolver(answers, position, dot=0))


# -- drafts -----------------------------------------------------------------------------


def save_draft(
    db: Session,
    *,
    key: str,
    cadre_id: int,
    survey_id: int,
    answers: dict[str, Any],
    position: Position,
    question_no: int,
    label: str | None,
    household_id: int | None = None,
) -> None:
    """Write a draft as it now stands: one upsert by ``key``, so two copies of
    the same callback racing each other write one draft. Commits: an answer is
    kept the moment it is given."""
    now = utcnow()
    db.execute(
        _draft_upsert(db),
        {
            "key": key,
            "cadre_id": cadre_id,
            "survey_id": survey_id,
            "created_at": now,
            "answers": answers,
            "position": position,
            "question_no": question_no,
            "label": label,
            "household_id": household_id,
            "updated_at": now,
        },
    )
    db.commit()


_UPDATED = ("answers", "position", "question_no", "label", "household_id", "updated_at")
_draft_upserts: dict[str, Any] = {}


def _draft_upsert(db: Session) -> Any:
    """The draft upsert, built once per dialect with bound parameters (building
    it with values each time cost more than running it)."""
    dialect = db.get_bind().dialect.name
    stmt = _draft_upserts.get(dialect)
    if stmt is None:
        names = ("key", "cadre_id", "survey_id", "created_at", *_UPDATED)
        insert = upsert(db, SurveyDraft).values({n: bindparam(n) for n in names})
        stmt = _draft_upserts[dialect] = insert.on_conflict_do_update(
            index_elements=[SurveyDraft.key], set_={n: insert.excluded[n] for n in _UPDATED}
        )
    return stmt


def open_drafts(db: Session, cadre_id: int) -> list[SurveyDraft]:
    """The cadre's drafts younger than ``DRAFT_TTL``, most recently answered first."""
    return list(
        db.scalars(
            select(SurveyDraft)
            .where(SurveyDraft.cadre_id == cadre_id, SurveyDraft.updated_at > utcnow() - DRAFT_TTL)
            .order_by(SurveyDraft.updated_at.desc(), SurveyDraft.id.desc())
        )
    )


def purge_expired_drafts(db: Session) -> int:
    """Delete drafts untouched for ``DRAFT_TTL``; returns how many. Commits."""
    result = db.execute(delete(SurveyDraft).where(SurveyDraft.updated_at <= utcnow() - DRAFT_TTL))
    db.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

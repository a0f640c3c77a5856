"""Every question of the household survey as the USSD engine shows it: the
positions a cadre can reach and the session data that puts them there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from domain import surveys
from domain.xlsform import Form
from tests.factories import household, member

#: A name as long as the header shows (the header cuts it to 10 characters).
LONG_NAME = "Wwwwwwwwwwwwwwwwwwww"


def answer_sets() -> list[dict[str, Any]]:
    """Answer sets that between them make every question relevant."""
    people = [
        member(30, m_name=LONG_NAME),
        member(10, m_name=LONG_NAME),
        member(75, m_name=LONG_NAME),
    ]
    return [
        household(*people, water_source="borehole", water_minutes=40, toilet="pit_slab"),
        household(*people, toilet="none", has_phone="no"),
    ]


def positions(form: Form) -> Iterator[tuple[list[Any], dict[str, Any]]]:
    """Each question's position once, with answers that lead there."""
    seen: set[str] = set()
    for answers in answer_sets():
        for pos in surveys.flow(form, answers):
            name = str(pos[-1])
            if name not in seen:
                seen.add(name)
                yield pos, answers


def keypresses(form: Form, answers: dict[str, Any], villages: list[tuple[int, str]]) -> list[str]:
    """What a cadre types to give ``answers``, question by question, in the
    order the survey asks them."""
    typed: list[str] = []
    for pos in surveys.flow(form, answers):
        q = surveys.question_at(form, pos)
        value = surveys.answer_at(answers, pos)
        names = [name for name, _label in surveys.choices_for(q, villages)]
        if q.type == "select_one":
            typed.append(str(names.index(str(value)) + 1))
        elif q.type == "select_multiple":
            typed.append(",".join(str(names.index(v) + 1) for v in value))
        elif q.type == "date":
            year, month, day = str(value).split("-")
            typed.append(f"{day}{month}{year}")
        else:
            typed.append(str(value))
    return typed

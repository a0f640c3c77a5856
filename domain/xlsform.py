"""Surveys as data: read an XLSForm with ``pyxform`` into the questions a USSD
screen can ask.

XLSForm is the ODK/Kobo standard (https://xlsform.org). ``pyxform`` reads the
workbook (``.xlsx``, ``.xls``, ``.csv`` or ``.md``) into its JSON form; this
module keeps that JSON in the database with the survey's version and turns it
into a ``Form``: questions with their type, labels per language, choices,
``relevant`` (skip logic), ``constraint`` and message, and repeat groups with
their ``repeat_count``. Languages are matched by the code in the column name
(``label::Kiswahili (sw)`` is ``sw``).

Supported question types: ``select_one``, ``select_multiple``, ``integer``,
``decimal``, ``text``, ``date``; ``begin group``/``begin repeat``. Yes/no is a
``select_one`` of a list with two choices, ``yes`` and ``no``. A
``select_one cadre_villages`` is filled at run time with the cadre's villages.
Other types (``note``, ``geopoint``, ``calculate`` …) raise ``FormError`` on
import, except the ``meta`` group pyxform adds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from domain import xlsform_expr

#: A select_one list filled at run time with the cadre's assigned villages.
VILLAGES_LIST = "cadre_villages"

_TYPES = {
    "select one": "select_one",
    "select all that apply": "select_multiple",
    "integer": "integer",
    "decimal": "decimal",
    "text": "text",
    "date": "date",
}
_LANG_CODE = re.compile(r"\(([a-z]{2,3}(?:[-_][a-z]+)?)\)\s*$", re.IGNORECASE)


class FormError(ValueError):
    """An XLSForm this service cannot run over USSD (the message says why)."""


@dataclass(frozen=True)
class Choice:
    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Question:
    """One question; ``labels`` and ``constraint_messages`` by language code."""

    name: str
    type: str  # select_one, select_multiple, integer, decimal, text, date
    labels: Mapping[str, str]
    choices: tuple[Choice, ...] = ()
    list_name: str | None = None
    relevant: str | None = None
    constraint: str | None = None
    constraint_messages: Mapping[str, str] = field(default_factory=dict)
    required: bool = True

    @property
    def yes_no(self) -> bool:
        return [c.name for c in self.choices] == ["yes", "no"]


@dataclass(frozen=True)
class Repeat:
    """A repeat group: ``count`` (an expression) instances of ``children``."""

    name: str
    labels: Mapping[str, str]
    count: str
    children: tuple[Question, ...]
    relevant: str | None = None


Node = Question | Repeat


@dataclass(frozen=True)
class Form:
    form_id: str
    version: str
    title: str
    default_language: str
    children: tuple[Node, ...]

    @cached_property
    def order(self) -> dict[str, tuple[int, int]]:
        """Each question's and repeat's place: (top-level index, index in its repeat)."""
        out: dict[str, tuple[int, int]] = {}
        for top, node in enumerate(self.children):
            out[node.name] = (top, 0)
            if isinstance(node, Repeat):
                for child, q in enumerate(node.children):
                    out[q.name] = (top, child)
        return out

    def questions(self) -> dict[str, Question]:
        """Every question by name (names are unique in an XLSForm)."""
        out: dict[str, Question] = {}
        for node in self.children:
            for q in node.children if isinstance(node, Repeat) else (node,):
                out[q.name] = q
        return out


def read_xlsform(path: str | Path) -> dict[str, Any]:
    """pyxform's JSON for the XLSForm at ``path``; raises ``FormError`` when
    pyxform rejects it or this service cannot run it."""
    from pyxform.errors import PyXFormError
    from pyxform.xls2json import parse_file_to_json

    try:
        definition: dict[str, Any] = parse_file_to_json(str(path))
    except PyXFormError as exc:
        raise FormError(f"{path}: {exc}") from exc
    except Exception as exc:  # pyxform on a file that is no XLSForm: many kinds
        raise FormError(f"{path}: not an XLSForm pyxform can read ({exc})") from exc
    build_form(definition)  # fail now, not in a household
    return definition


def build_form(definition: Mapping[str, Any]) -> Form:
    """A ``Form`` from pyxform's JSON; raises ``FormError``."""
    default = _code(definition.get("default_language") or "default") or "en"
    children = tuple(_nodes(definition.get("children", []), default, None, in_repeat=False))
    if not children:
        raise FormError("the form has no questions")
    names = [q for q in _all_names(children)]
    if len(names) != len(set(names)):
        raise FormError("question names must be unique")
    for q in _all_questions(children):
        for expr in (q.relevant, q.constraint):
            if expr:
                _check_refs(expr, set(names), q.name)
    for node in children:
        if isinstance(node, Repeat):
            inside = {q.name for q in node.children}
            _check_refs(node.count, set(names) - inside, node.name)
            if node.relevant:
                _check_refs(node.relevant, set(names), node.name)
    return Form(
        form_id=str(definition.get("id_string") or definition.get("name") or "form"),
        version=str(definition.get("version") or "1"),
        title=str(definition.get("title") or ""),
        default_language=default,
        children=children,
    )


def _check_refs(expr: str, names: set[str], where: str) -> None:
    try:
        unknown = xlsform_expr.references(expr) - names
    except xlsform_expr.ExpressionError as exc:
        raise FormError(f"{where}: {exc}") from exc
    if unknown:
        raise FormError(f"{where}: unknown question(s) {sorted(unknown)} in {expr!r}")


def _all_questions(children: tuple[Node, ...]) -> list[Question]:
    out: list[Question] = []
    for node in children:
        out.extend(node.children if isinstance(node, Repeat) else (node,))
    return out


def _all_names(children: tuple[Node, ...]) -> list[str]:
    return [n.name for n in children if isinstance(n, Repeat)] + [
        q.name for q in _all_questions(children)
    ]


def _nodes(
    items: list[dict[str, Any]], default: str, group_relevant: str | None, *, in_repeat: bool
) -> list[Node]:
    out: list[Node] = []
    for item in items:
        kind = item.get("type", "")
        bind = item.get("bind") or {}
        relevant = _and(group_relevant, bind.get("relevant"))
        if kind == "group":
            if item.get("name") == "meta":
                continue  # pyxform's instanceID: nothing to ask
            out.extend(_nodes(item.get("children", []), default, relevant, in_repeat=in_repeat))
        elif kind == "repeat":
            if in_repeat:
                raise FormError(f"{item['name']}: a repeat inside a repeat is not supported")
            count = (item.get("control") or {}).get("jr:count")
            if not count:
                raise FormError(f"{item['name']}: a repeat needs a repeat_count")
            kids = _nodes(item.get("children", []), default, None, in_repeat=True)
            out.append(
                Repeat(
                    name=item["name"],
                    labels=_labels(item.get("label"), default),
                    count=str(count),
                    children=tuple(k for k in kids if isinstance(k, Question)),
                    relevant=relevant,
                )
            )
        elif kind in _TYPES:
            out.append(_question(item, _TYPES[kind], default, relevant))
        else:
            raise FormError(f"{item.get('name')}: question type {kind!r} is not supported")
    return out


def _question(item: dict[str, Any], kind: str, default: str, relevant: str | None) -> Question:
    bind = item.get("bind") or {}
    choices = tuple(
        Choice(str(c["name"]), _labels(c.get("label"), default)) for c in item.get("choices", [])
    )
    list_name = item.get("list_name")
    if kind.startswith("select") and not choices and list_name != VILLAGES_LIST:
        raise FormError(f"{item['name']}: no choices")
    labels = _labels(item.get("label"), default)
    if not labels:
        raise FormError(f"{item['name']}: no label")
    return Question(
        name=item["name"],
        type=kind,
        labels=labels,
        choices=choices,
        list_name=list_name,
        relevant=relevant,
        constraint=bind.get("constraint"),
        constraint_messages=_labels(bind.get("jr:constraintMsg"), default),
        # As in XLSForm, an empty `required` cell means the question may be skipped.
        required=str(bind.get("required", "")).lower() in ("yes", "true", "true()", "1"),
    )


def _and(a: str | None, b: str | None) -> str | None:
    if a and b:
        return f"({a}) and ({b})"
    return a or b


def _labels(value: Any, default: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {default: value}
    return {(_code(lang) or default): str(text) for lang, text in value.items() if text}


def _code(language: str) -> str | None:
    """``"Kiswahili (sw)"`` → ``"sw"``; ``"default"`` → None."""
    m = _LANG_CODE.search(language)
    return m.group(1).lower() if m else None


def label(labels: Mapping[str, str], language: str, fallback: str) -> str:
    """The text in ``language``, else in ``fallback``, else any."""
    return labels.get(language) or labels.get(fallback) or next(iter(labels.values()), "")

"""Eligibility rules: which households a programme is for, as data.

A rule is attached to a programme's article (``eligibility:`` in
``demo/content.yaml``, ``Article.eligibility`` in the database) and reads a
household's latest survey classification. The same rule answers two questions:
``matches(rule, survey)`` for one household ("My household" lists what it may
claim), and ``where(rule)`` as a SQL condition on ``HouseholdSurvey`` (the
campaigns' audiences).

Shape (JSON)::

    {"all": [rule, …]} | {"any": [rule, …]} | {"not": rule}
    | {"field": NAME, "is": true|false}
    | {"field": NAME, "in": [value, …]}
    | {"field": NAME, ">=": n} (also "<=", "=", ">", "<")

``NAME`` is one of ``FIELDS``: the classification columns of a survey.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import and_, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from domain.mpi import INDICATORS
from models import HouseholdSurvey

#: Fields a rule may read, by kind: "bool", "int", "float" or "str".
FIELDS: dict[str, str] = {
    "mpi_poor": "bool",
    "mpi_vulnerable": "bool",
    "mpi_severe": "bool",
    "mpi_score_value": "float",
    **{f"dep_{name}": "bool" for name in INDICATORS},
    "food_ok": "bool",
    "clothing_ok": "bool",
    "education_ok": "bool",
    "medical_ok": "bool",
    "housing_ok": "bool",
    "water_ok": "bool",
    "water_level": "str",
    "sanitation_level": "str",
    "fies_score": "int",
    "food_insecurity": "str",
    "members": "int",
    "children_out_of_school": "int",
    "members_able_to_work": "int",
    "members_with_disability": "int",
    "members_chronically_ill": "int",
    "members_aged_70_plus": "int",
    "hardship": "str",
}

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}


class RuleError(ValueError):
    """A rule that is not of the shape above (the message says where)."""


#: Deepest nesting of all/any/not a rule may have, and the largest number it may
#: compare with: far beyond any real rule, short of what would overflow the
#: interpreter's stack or a database column.
MAX_DEPTH = 20
MAX_NUMBER = 1_000_000_000


def validate(rule: Any) -> None:
    """Raise ``RuleError`` unless ``rule`` is a well-formed rule."""
    _check(rule, "rule", 0)


def _check(rule: Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise RuleError(f"{where}: nested more than {MAX_DEPTH} deep")
    if not isinstance(rule, Mapping) or not rule:
        raise RuleError(f"{where}: a rule is a mapping")
    if "all" in rule or "any" in rule:
        parts = rule.get("all", rule.get("any"))
        if len(rule) != 1 or not isinstance(parts, list) or not parts:
            raise RuleError(f"{where}: all/any takes a non-empty list and nothing else")
        for i, part in enumerate(parts):
            _check(part, f"{where}[{i}]", depth + 1)
        return
    if "not" in rule:
        if len(rule) != 1:
            raise RuleError(f"{where}: not takes one rule and nothing else")
        _check(rule["not"], f"{where}.not", depth + 1)
        return
    name = rule.get("field")
    kind = FIELDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise RuleError(f"{where}: unknown field {name!r}")
    ops = set(rule) - {"field"}
    if len(ops) != 1:
        raise RuleError(f"{where}: one test per field (is, in, >=, …)")
    op = ops.pop()
    value = rule[op]
    if op == "is" and (kind != "bool" or not isinstance(value, bool)):
        raise RuleError(f"{where}: 'is' takes true or false on a yes/no field")
    if op == "in" and (not isinstance(value, list) or not value):
        raise RuleError(f"{where}: 'in' takes a non-empty list")
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if op in _COMPARE and (kind not in ("int", "float") or not is_number):
        raise RuleError(f"{where}: {op!r} takes a number on a numeric field")
    if is_number and not (math.isfinite(value) and abs(value) <= MAX_NUMBER):
        raise RuleError(f"{where}: {value!r} is not a number between ±{MAX_NUMBER:,}")
    if op == "in" and not all(_fits(kind, v) for v in value):
        raise RuleError(f"{where}: 'in' takes values of the field's kind ({kind})")
    if op not in _COMPARE and op not in ("is", "in"):
        raise RuleError(f"{where}: unknown test {op!r}")


def _fits(kind: str | None, value: Any) -> bool:
    """Whether ``value`` is a plain value of ``kind``: what a column of that kind
    can be compared with on every database (a list, an object, ``true`` for a
    number or a number past ``MAX_NUMBER`` cannot)."""
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str) and "\x00" not in value and len(value) <= 200
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if kind == "int" and not isinstance(value, int):
        return False
    return math.isfinite(value) and abs(value) <= MAX_NUMBER


def matches(rule: Mapping[str, Any], survey: HouseholdSurvey) -> bool:
    """Whether one household's survey meets ``rule``."""
    if "all" in rule:
        return all(matches(part, survey) for part in rule["all"])
    if "any" in rule:
        return any(matches(part, survey) for part in rule["any"])
    if "not" in rule:
        return not matches(rule["not"], survey)
    value = getattr(survey, rule["field"])
    if "is" in rule:
        return bool(value) is rule["is"]
    if "in" in rule:
        return value in rule["in"]
    op = next(k for k in rule if k != "field")
    return value is not None and _COMPARE[op](value, rule[op])


def where(rule: Mapping[str, Any]) -> ColumnElement[bool]:
    """``rule`` as a SQL condition on ``HouseholdSurvey`` (combine it with
    ``HouseholdSurvey.is_latest`` for households as they are now)."""
    if "all" in rule:
        return and_(true(), *(where(part) for part in rule["all"]))
    if "any" in rule:
        return or_(*(where(part) for part in rule["any"]))
    if "not" in rule:
        return not_(where(rule["not"]))
    column = getattr(HouseholdSurvey, rule["field"])
    if "is" in rule:
        return column.is_(rule["is"])  # type: ignore[no-any-return]
    # A missing value fails the test, as in ``matches``, and not() of it passes
    # (SQL alone would make both unknown).
    if "in" in rule:
        test = column.in_(rule["in"])
    else:
        op = next(k for k in rule if k != "field")
        test = _COMPARE[op](column, rule[op])
    return and_(column.is_not(None), test)

"""The XPath subset of XLSForm ``relevant``/``constraint`` cells (domain.xlsform_expr)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from domain.xlsform_expr import ExpressionError, evaluate, references, truth


def _answers(dot: Any = None, **answers: Any) -> Any:
    """A resolver: ``${name}`` from ``answers``, ``.`` is ``dot``; None if unanswered."""

    def resolve(name: str) -> Any:
        return dot if name == "." else answers.get(name)

    return resolve


NOTHING = _answers()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("10 - 4 - 3", 3.0),  # left-associative
        ("7 mod 3", 1.0),
        ("-7 mod 3", -1.0),  # XPath mod truncates, like fmod
        ("7 div 2", 3.5),
        ("8 div 2 div 2", 2.0),
        ("-3 + 5", 2.0),
        ("2 * -3", -6.0),
        ("- - 4", 4.0),
        ("1 - -2", 3.0),
        (".5 + 1.25", 1.75),
        ("int(7 div 2)", 3.0),
        ("int(-7 div 2)", -3.0),
        ("number('12')", 12.0),
        ("string(12)", "12"),
        ("string(2.5)", "2.5"),
        ("'a' = 'a'", True),
    ],
)
def test_arithmetic_and_precedence(text: str, value: Any) -> None:
    assert evaluate(text, NOTHING) == value


def test_division_by_zero_is_infinity_or_nan_not_an_error() -> None:
    assert evaluate("1 div 0", NOTHING) == math.inf
    assert evaluate("-1 div 0", NOTHING) == -math.inf
    assert math.isnan(evaluate("0 div 0", NOTHING))  # type: ignore[arg-type]
    assert math.isnan(evaluate("5 mod 0", NOTHING))  # type: ignore[arg-type]


def test_numbers_compare_as_numbers() -> None:
    assert truth("${a} >= 6", _answers(a=6)) is True
    assert truth("${a} >= 6", _answers(a=5)) is False
    assert truth("${a} = 6", _answers(a=6.0)) is True
    assert truth("${a} < 6", _answers(a=-1)) is True


def test_unanswered_is_nan_in_a_numeric_comparison() -> None:
    # XPath 1.0 §3.4: "" is NaN as a number, and every comparison with NaN but != is false.
    for op in (">=", "<=", ">", "<", "="):
        assert truth(f"${{a}} {op} 6", NOTHING) is False, op
    assert truth("${a} != 6", NOTHING) is True
    assert truth("${a} = ''", NOTHING) is True


def test_a_string_against_a_number_compares_numbers() -> None:
    assert truth("'10' > 9", NOTHING) is True  # not "10" < "9" as strings
    assert truth("'10' = 10", NOTHING) is True
    assert truth("'10.0' = 10", NOTHING) is True
    assert truth("'abc' > 1", NOTHING) is False  # NaN
    assert truth("'abc' < 1", NOTHING) is False
    assert truth("${a} > 9", _answers(a="10")) is True
    assert truth("'10' = '10.0'", NOTHING) is False  # two strings compare as strings
    assert truth("'b' > 'a'", NOTHING) is False  # relational: both NaN


def test_booleans_compare_as_booleans() -> None:
    assert truth("true() = 1", NOTHING) is True
    assert truth("false() = ''", NOTHING) is True
    assert truth("(1 = 1) = 'x'", NOTHING) is True  # a non-empty string is true


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${a} = 'yes' and ${b} > 2", True),
        ("${a} = 'yes' and ${b} > 5", False),
        ("${a} = 'no' or ${b} > 2", True),
        ("${a} = 'no' or ${b} > 5", False),
        ("not(${a} = 'yes')", False),
        ("not(${missing})", True),
        ("${a} = 'no' or ${b} = 3 and ${a} = 'yes'", True),  # and binds tighter than or
        ("(${a} = 'no' or ${b} = 3) and ${a} = 'no'", False),
        ("1 < 2 = true()", True),  # relational binds tighter than equality
        ("true()", True),
        ("false()", False),
    ],
)
def test_and_or_not(text: str, expected: bool) -> None:
    assert truth(text, _answers(a="yes", b=3)) is expected


def test_string_literals_may_contain_keywords_and_operators() -> None:
    resolve = _answers(a="rock and roll", b="x or y", c="a)b")
    assert truth("${a} = 'rock and roll'", resolve) is True
    assert truth('${b} = "x or y"', resolve) is True
    assert truth("${c} = 'a)b'", resolve) is True
    assert truth("${a} = 'rock and roll' and ${b} = 'x or y'", resolve) is True
    assert references("${a} = 'and ${b}'") == {"a"}  # a reference inside a string is text


def test_selected_on_a_list_answer() -> None:
    resolve = _answers(m=["radio", "phone"])
    assert truth("selected(${m}, 'radio')", resolve) is True
    assert truth("selected(${m}, 'phone')", resolve) is True
    assert truth("selected(${m}, 'car')", resolve) is False
    assert truth("selected(${m}, 'rad')", resolve) is False  # whole names only


def test_selected_on_a_space_separated_string() -> None:
    resolve = _answers(m="radio phone")
    assert truth("selected(${m}, 'phone')", resolve) is True
    assert truth("selected(${m}, 'radio phone')", resolve) is False
    assert truth("selected(${m}, 'tv')", resolve) is False
    assert truth("selected(${x}, 'tv')", resolve) is False  # unanswered


def test_selected_on_a_select_one_answer() -> None:
    assert truth("selected(${w}, 'piped_dwelling')", _answers(w="piped_dwelling")) is True
    assert truth("selected(${w}, 'piped_dwelling')", _answers(w="public_tap")) is False


def test_count_selected_of_dot() -> None:
    assert evaluate("count-selected(.)", _answers(dot=["a", "b", "c"])) == 3.0
    assert evaluate("count-selected(.)", _answers(dot="a b")) == 2.0
    assert evaluate("count-selected(.)", _answers(dot=None)) == 0.0
    none_alone = "not(selected(., 'none') and count-selected(.) > 1)"
    assert truth(none_alone, _answers(dot=["none"])) is True
    assert truth(none_alone, _answers(dot=["radio", "none"])) is False
    assert truth(none_alone, _answers(dot=["radio", "tv"])) is True


def test_string_length_of_dot() -> None:
    assert evaluate("string-length(.)", _answers(dot="Wanjiru")) == 7.0
    assert evaluate("string-length(.)", _answers(dot="")) == 0.0
    assert evaluate("string-length(.)", _answers(dot=None)) == 0.0
    assert evaluate("string-length(.)", _answers(dot=12345)) == 5.0
    rule = "string-length(.) >= 1 and string-length(.) <= 20"
    assert truth(rule, _answers(dot="A")) is True
    assert truth(rule, _answers(dot="A" * 21)) is False


def test_regex_of_dot() -> None:
    digits = "regex(., '^[0-9]+$')"
    assert truth(digits, _answers(dot="0712345678")) is True
    assert truth(digits, _answers(dot="07123x")) is False
    assert truth(digits, _answers(dot="")) is False
    phone = r"regex(., '^\+?[0-9]{9,15}$')"
    assert truth(phone, _answers(dot="+254700000101")) is True
    assert truth(phone, _answers(dot="12345678")) is False


def test_dot_resolves_to_the_value_being_checked() -> None:
    assert truth(". >= 0 and . <= 120", _answers(dot=0)) is True
    assert truth(". >= 0 and . <= 120", _answers(dot=121)) is False
    assert truth(". = 'yes'", _answers(dot="yes", yes="no")) is True
    assert truth(". > ${a}", _answers(dot=5, a=4)) is True
    assert evaluate(".", _answers(dot=2)) == 2.0  # an int answer is an XPath number
    assert evaluate(".", _answers(dot=None)) == ""


@pytest.mark.parametrize(
    "text",
    [
        "foo(1)",  # unknown function
        "concat('a', 'b')",
        "${a} + bar",
        "(1 + 2",  # unbalanced
        "1 + 2)",
        "((1)",
        "not(1 = 1",
        "regex(., '[0-9')",  # bad regular expression
        "regex(., '(')",
        "not()",  # wrong argument counts
        "not(1, 2)",
        "selected(${a})",
        "today(1)",
        "true(1)",
        "1 2",  # trailing garbage
        "${a} = 1 ${b}",
        "1 +",
        "",
        "${a} ? 1",
        "${a} == 1",
        "true",  # a function name without its parentheses
    ],
)
def test_expression_errors(text: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(text, NOTHING)
    with pytest.raises(ExpressionError):
        references(text)  # at load time, not in a household


def test_references() -> None:
    assert references("${a} >= 6 and selected(${m}, 'x') or not(${b.c} = ${a})") == {
        "a",
        "m",
        "b.c",
    }
    assert references(". >= 1 and . <= 30") == set()
    assert references("count-selected(${assets}) > 1") == {"assets"}
    assert references("-${n} + int(${x-y})") == {"n", "x-y"}

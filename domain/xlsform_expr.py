"""The part of XPath that XLSForm skip logic and constraints use, evaluated over
a survey's answers.

An XLSForm ``relevant`` or ``constraint`` cell is an XPath 1.0 expression with
``${name}`` references (XLSForm spec, https://xlsform.org/en/#relevant and
#constraints; ODK XForms spec, https://getodk.github.io/xforms-spec/). This
module parses that expression once and evaluates it against a resolver for
names, with XPath's rules for comparing strings and numbers (W3C XPath 1.0 §3.4:
a comparison with a number compares numbers, and a string that is not a number
is NaN, so ``${age} >= 6`` is false while the age is unanswered).

Supported: numbers, 'strings' and "strings", ``${name}``, ``.`` (the answer
being checked), ``= != < <= > >=``, ``and or``, ``+ - * div mod``, unary minus,
parentheses, and the functions ``not selected count-selected string-length
regex true false number string int today``. Anything else raises
``ExpressionError`` when the form is loaded, not when a cadre is in a household.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

Value = str | float | bool | list[str]
#: Resolves ``${name}`` (and ``.`` as the name ``"."``) to an answer, None if unanswered.
Resolver = Callable[[str], Any]


#: Longer or deeper expressions are refused when a form is loaded (a form's
#: skip logic is a line or two; this keeps the parser's recursion bounded).
MAX_LENGTH = 2000
MAX_DEPTH = 40


class ExpressionError(ValueError):
    """An expression this service cannot evaluate (with the offending text)."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<ref>\$\{[A-Za-z_][\w.-]*\})
    | (?P<num>\d+(?:\.\d*)?|\.\d+)
    | (?P<str>'[^']*'|"[^"]*")
    | (?P<op><=|>=|!=|=|<|>|\+|-|\*|\(|\)|,)
    | (?P<name>[A-Za-z_][\w-]*)
    | (?P<dot>\.)
    )""",
    re.X,
)

_FUNCTIONS = {
    "not": (1, 1),
    "selected": (2, 2),
    "count-selected": (1, 1),
    "string-length": (1, 1),
    "regex": (2, 2),
    "true": (0, 0),
    "false": (0, 0),
    "number": (1, 1),
    "string": (1, 1),
    "int": (1, 1),
    "today": (0, 0),
}


@dataclass(frozen=True)
class _Node:
    kind: str  # "num" "str" "ref" "dot" "call" "bin" "neg"
    value: Any = None
    args: tuple[_Node, ...] = ()


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot read {text[pos:]!r} in {text!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    """Recursive descent over XPath's precedence: or < and < equality <
    relational < additive < multiplicative < unary."""

    def __init__(self, text: str) -> None:
        if len(text) > MAX_LENGTH:
            raise ExpressionError(f"an expression of {len(text)} characters is too long")
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"nested more than {MAX_DEPTH} deep in {self.text[:80]!r}")

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ExpressionError(f"expected {value or 'more'} in {self.text!r}")
        self.i += 1
        return tok

    def parse(self) -> _Node:
        node = self.binary(0)
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r} in {self.text!r}")  # type: ignore[index]
        return node

    _LEVELS: tuple[tuple[str, ...], ...] = (
        ("or",),
        ("and",),
        ("=", "!="),
        ("<", "<=", ">", ">="),
        ("+", "-"),
        ("*", "div", "mod"),
    )

    def binary(self, level: int) -> _Node:
        if level == len(self._LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while (tok := self.peek()) is not None and tok[1] in self._LEVELS[level]:
            if tok[0] == "str":
                break
            self.i += 1
            node = _Node("bin", tok[1], (node, self.binary(level + 1)))
        return node

    def unary(self) -> _Node:
        tok = self.peek()
        if tok is not None and tok[1] == "-":
            self.i += 1
            self.nested()
            node = _Node("neg", None, (self.unary(),))
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> _Node:
        kind, text = self.take()
        if kind == "num":
            return _Node("num", float(text))
        if kind == "str":
            return _Node("str", text[1:-1])
        if kind == "ref":
            return _Node("ref", text[2:-1])
        if kind == "dot":
            return _Node("dot")
        if text == "(":
            self.nested()
            node = self.binary(0)
            self.take(")")
            self.depth -= 1
            return node
        if kind == "name" and text in _FUNCTIONS:
            self.nested()
            self.take("(")
            args: list[_Node] = []
            if self.peek() is not None and self.peek()[1] != ")":  # type: ignore[index]
                args.append(self.binary(0))
                while self.peek() is not None and self.peek()[1] == ",":  # type: ignore[index]
                    self.i += 1
                    args.append(self.binary(0))
            self.take(")")
            self.depth -= 1
            low, high = _FUNCTIONS[text]
            if not low <= len(args) <= high:
                raise ExpressionError(f"{text}() takes {low} argument(s) in {self.text!r}")
            if text == "regex" and args[1].kind == "str":
                _regex(args[1].value)  # a bad pattern fails at load time
            return _Node("call", text, tuple(args))
        raise ExpressionError(f"unsupported {text!r} in {self.text!r}")


@lru_cache(maxsize=4096)
def parse(text: str) -> _Node:
    """Parse an expression once (cached); raises ``ExpressionError``."""
    return _Parser(text).parse()


def references(text: str) -> set[str]:
    """The ``${name}`` references in an expression."""
    found: set[str] = set()

    def walk(node: _Node) -> None:
        if node.kind == "ref":
            found.add(node.value)
        for arg in node.args:
            walk(arg)

    walk(parse(text))
    return found


def evaluate(text: str, resolve: Resolver) -> Value:
    """The value of ``text`` with names looked up by ``resolve``."""
    return _eval(parse(text), resolve)


def truth(text: str, resolve: Resolver) -> bool:
    """``boolean(text)``: the expression's truth value, as ``relevant`` and
    ``constraint`` use it."""
    return _boolean(evaluate(text, resolve))


def _eval(node: _Node, resolve: Resolver) -> Value:
    kind = node.kind
    if kind in ("num", "str"):
        return node.value  # type: ignore[no-any-return]
    if kind in ("ref", "dot"):
        return _answer(resolve(node.value if kind == "ref" else "."))
    if kind == "neg":
        return -_number(_eval(node.args[0], resolve))
    if kind == "bin":
        op = node.value
        if op == "or":
            return _boolean(_eval(node.args[0], resolve)) or _boolean(_eval(node.args[1], resolve))
        if op == "and":
            return _boolean(_eval(node.args[0], resolve)) and _boolean(_eval(node.args[1], resolve))
        left, right = _eval(node.args[0], resolve), _eval(node.args[1], resolve)
        if op in ("=", "!=", "<", "<=", ">", ">="):
            return _compare(op, left, right)
        a, b = _number(left), _number(right)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "div":
            return a / b if b else math.copysign(math.inf, a) if a else math.nan
        return math.fmod(a, b) if b else math.nan  # mod
    return _call(node, resolve)


def _call(node: _Node, resolve: Resolver) -> Value:
    name = node.value
    args = [_eval(arg, resolve) for arg in node.args]
    if name == "not":
        return not _boolean(args[0])
    if name == "selected":
        return _string(args[1]) in _choices(args[0])
    if name == "count-selected":
        return float(len(_choices(args[0])))
    if name == "string-length":
        return float(len(_string(args[0])))
    if name == "regex":
        return _regex(_string(args[1])).search(_string(args[0])) is not None
    if name == "true":
        return True
    if name == "false":
        return False
    if name == "number":
        return _number(args[0])
    if name == "string":
        return _string(args[0])
    if name == "int":
        n = _number(args[0])
        return float(math.trunc(n)) if math.isfinite(n) else n
    return date.today().isoformat()  # today


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ExpressionError(f"bad regular expression {pattern!r}: {exc}") from exc


def _answer(value: Any) -> Value:
    """An answer as XPath sees it: a number, a string, or a list of selected names."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


def _choices(value: Value) -> list[str]:
    if isinstance(value, list):
        return value
    return _string(value).split()  # XForms keeps a multiple choice as "a b c"


def _string(value: Value) -> str:
    if isinstance(value, list):
        return " ".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return str(int(value)) if value.is_integer() else repr(value)
    return value


def _number(value: Value) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    text = _string(value).strip()
    try:
        return float(text) if re.fullmatch(r"-?(\d+(\.\d*)?|\.\d+)", text) else math.nan
    except ValueError:
        return math.nan


def _boolean(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value != 0 and not math.isnan(value)
    return bool(value)


def _compare(op: str, left: Value, right: Value) -> bool:
    """XPath 1.0 §3.4: booleans compare as booleans, then numbers as numbers for
    ``< <= > >=`` and whenever one side is a number, else strings."""
    if op in ("=", "!="):
        if isinstance(left, bool) or isinstance(right, bool):
            equal = _boolean(left) == _boolean(right)
        elif isinstance(left, float) or isinstance(right, float):
            equal = _number(left) == _number(right)
        else:
            equal = _string(left) == _string(right)
        return equal if op == "=" else not equal
    a, b = _number(left), _number(right)
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b

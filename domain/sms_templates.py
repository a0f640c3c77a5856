"""A campaign's SMS text, per language, with placeholders in braces.

``Hello {village}: apply for {job} by {closing_date}.`` Per-recipient fields
(``RECIPIENT_FIELDS``) are filled from each recipient's area; campaign-wide
variables (any lower-case name the campaign declares) from the campaign. The
syntax is Python's ``str.format`` reduced to plain names: ``{name}`` only, no
attribute or index access, conversion or format spec; ``{{`` and ``}}`` are
literal braces. A variable holding an ISO date (``2026-12-15``) is written as
the recipient's language writes a date (Babel, CLDR "medium" format).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from datetime import date
from functools import lru_cache

from babel.core import UnknownLocaleError
from babel.dates import format_date

#: Placeholders filled per recipient, from the area they live in.
RECIPIENT_FIELDS = ("village", "county")

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

#: A parsed template: literal text, then the placeholder after it (None at the end).
Parsed = tuple[tuple[str, str | None], ...]


class TemplateError(ValueError):
    """A template that cannot be rendered; ``placeholder`` names the culprit
    (as written, braces included) when there is one."""

    def __init__(self, message: str, placeholder: str | None = None) -> None:
        super().__init__(message)
        self.placeholder = placeholder


def placeholders(template: str) -> list[str]:
    """The placeholder names of ``template``, each once, in order of first use.

    Raises ``TemplateError`` for unbalanced braces, attribute or index access
    (``{a.b}``, ``{a[0]}``), a conversion (``{a!r}``), a format spec
    (``{a:>10}``), an empty or positional field (``{}``, ``{0}``), or a name
    that is not ``[a-z_][a-z0-9_]*``.
    """
    return list(dict.fromkeys(name for _text, name in _parse(template) if name is not None))


#: A campaign variable's name: what a ``{placeholder}`` can name.
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def validate(template: str, variables: Mapping[str, str]) -> None:
    """Check that every placeholder of ``template`` is a recipient field or a key
    of ``variables`` (the campaign's), and that no variable takes a recipient
    field's name or a name a placeholder cannot have (``[A-Za-z_][A-Za-z0-9_]*``,
    at most 40 characters). Raises ``TemplateError``."""
    for name in variables:
        if not VARIABLE_NAME.fullmatch(name):
            raise TemplateError(
                f"campaign variable {name!r}: a name is letters, digits and _, "
                "starting with a letter (at most 40)",
                name[:40],
            )
        if name in RECIPIENT_FIELDS:
            raise TemplateError(
                f"campaign variable {{{name}}} has the name of a recipient field", f"{{{name}}}"
            )
    for name in placeholders(template):
        if name not in RECIPIENT_FIELDS and name not in variables:
            declared = ", ".join(sorted(variables)) or "none"
            raise TemplateError(
                f"unknown placeholder {{{name}}}: not a recipient field "
                f"({', '.join(RECIPIENT_FIELDS)}) nor a campaign variable ({declared})",
                f"{{{name}}}",
            )


def render(
    template: str,
    language: str,
    *,
    variables: Mapping[str, str],
    village: str | None,
    county: str | None,
) -> str:
    """``template`` filled for one recipient (or a group sharing village and county).

    A variable whose value is an ISO date ``YYYY-MM-DD`` is written by Babel's
    ``format_date(format="medium", locale=language)``: ``Dec 15, 2026`` (en),
    ``15 Des 2026`` (sw), ``15 déc. 2026`` (fr), ``2026年12月15日`` (zh). An
    empty or missing value (no village known) leaves no doubled space behind.
    Values are never parsed as templates. Raises ``TemplateError`` only for the
    template (as ``validate`` would), never for a value.
    """
    fields = {"village": village or "", "county": county or ""}
    out: list[str | None] = []  # None: a placeholder that rendered empty
    for text, name in _parse(template):
        out.append(text)
        if name is None:
            continue
        if name in fields:
            value = fields[name]
        elif name in variables:
            value = _value(variables[name], language)
        else:
            raise TemplateError(f"unknown placeholder {{{name}}}", f"{{{name}}}")
        out.append(value or None)
    if None not in out:
        return "".join(p for p in out if p is not None)
    # Mark the gaps with a character no piece holds: a value is never taken for one.
    held = "".join(p for p in out if p is not None)
    gap = next(ch for ch in (_GAP, *map(chr, range(0xE000, 0xF900))) if ch not in held)
    return _close_gaps("".join(gap if p is None else p for p in out), gap)


@lru_cache(maxsize=512)
def _parse(template: str) -> Parsed:
    """``template`` split into (literal, placeholder) pairs, checked; cached, as a
    campaign renders the same template once per recipient group."""
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(_unbalanced(template, str(exc))) from None
    out: list[tuple[str, str | None]] = []
    for text, field, spec, conversion in pieces:
        if field is None:
            out.append((text, None))
            continue
        shown = _as_written(field, spec, conversion)
        if field == "" or field.isdigit():
            raise TemplateError(
                f"placeholder {shown} has no name: write a name such as {{village}}", shown
            )
        if "." in field or "[" in field:
            raise TemplateError(
                f"placeholder {shown}: attribute and index access are not allowed", shown
            )
        if conversion is not None:
            raise TemplateError(f"placeholder {shown}: conversions are not allowed", shown)
        if spec:
            raise TemplateError(f"placeholder {shown}: format specs are not allowed", shown)
        if not _NAME.fullmatch(field):
            raise TemplateError(
                f"placeholder {shown}: a name is lower-case letters, digits and _ "
                "and does not start with a digit",
                shown,
            )
        out.append((text, field))
    return tuple(out)


def _as_written(field: str, spec: str | None, conversion: str | None) -> str:
    return (
        "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
    )


def _unbalanced(template: str, error: str) -> str:
    """Where the braces of ``template`` stop balancing, for the error message."""
    i = 0
    while i < len(template):
        pair = template[i : i + 2]
        if pair in ("{{", "}}"):
            i += 2
            continue
        if template[i] == "}":
            return f"single '}}' at character {i + 1}: write '}}}}' for a literal brace"
        if template[i] == "{":
            close = template.find("}", i)
            inner = template.find("{", i + 1)
            if close < 0 or 0 <= inner < close:
                return f"unclosed '{{' at character {i + 1}: write '{{{{' for a literal brace"
            i = close
        i += 1
    return f"malformed placeholder ({error}): write {{name}}, and '{{{{' '}}}}' for literal braces"


@lru_cache(maxsize=4096)
def _value(value: str, language: str) -> str:
    """``value`` as the recipient reads it: an ISO date in their language's
    medium format, anything else as it is (also a date that does not exist)."""
    if not _ISO_DATE.fullmatch(value):
        return value
    try:
        return format_date(date.fromisoformat(value), format="medium", locale=language)
    except (ValueError, UnknownLocaleError):
        return value


#: Where a placeholder rendered empty, until ``_close_gaps`` closes it up: NUL,
#: or a private-use character when a value holds NUL (``render``).
_GAP = "\x00"


@lru_cache(maxsize=16)
def _gap_run(gap: str) -> re.Pattern[str]:
    return re.compile(f"[ {re.escape(gap)}]*{re.escape(gap)}[ {re.escape(gap)}]*")


def _close_gaps(text: str, gap: str = _GAP) -> str:
    """Drop the empty placeholders (``gap``) of ``text`` with the spaces around
    them, keeping one space between words: "in {village} today" → "in today",
    "Hello {village}!" → "Hello!", and no space at the start or end of a line."""

    def close(m: re.Match[str]) -> str:
        before = text[m.start() - 1] if m.start() else "\n"
        after = text[m.end()] if m.end() < len(text) else "\n"
        edge = before == "\n" or after == "\n" or after in ",.;:!?)"
        return " " if " " in m.group() and not edge else ""

    return _gap_run(gap).sub(close, text)

"""Length of a text as a handset counts it: GSM-7 septets or UCS-2 (UTF-16) units.

Source: 3GPP TS 23.038 §6.2.1 (the GSM 7-bit default alphabet) and §6.2.1.1 (its
extension table, reached by an escape, so each extension character costs two
septets). A text with any character outside both tables is sent as UCS-2, where a
character outside the Basic Multilingual Plane (an emoji) costs two 16-bit units.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"


class Length(NamedTuple):
    encoding: str  # GSM7 or UCS2
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2


def measure(text: str) -> tuple[int, int, bool]:
    """``(septets, utf16_units, needs_ucs2)`` of ``text``: its GSM-7 length (meaningless
    when ``needs_ucs2``), its UCS-2 length, and whether any character is outside
    GSM-7. Additive: the measure of a concatenation is the sum of the parts'."""
    septets = utf16 = 0
    ucs2 = False
    for ch in text:
        if ch in GSM7_BASIC:
            septets += 1
        elif ch in GSM7_EXTENSION:
            septets += 2
        else:
            ucs2 = True
        utf16 += 2 if ord(ch) > 0xFFFF else 1
    return septets, utf16, ucs2


def text_length(text: str) -> Length:
    """Return the encoding a handset would use for ``text`` and its length in that unit."""
    septets, utf16, ucs2 = measure(text)
    return Length(UCS2, utf16) if ucs2 else Length(GSM7, septets)


def utf16_units(text: str) -> int:
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def fits(text: str, gsm7_limit: int, ucs2_limit: int) -> bool:
    """Whether ``text`` fits one screen: ``gsm7_limit`` septets, or ``ucs2_limit``
    UTF-16 units when any character needs UCS-2."""
    length = text_length(text)
    return length.units <= (gsm7_limit if length.encoding == GSM7 else ucs2_limit)


#: Single-part capacity and per-part capacity once concatenated (a 6-octet user
#: data header per part): 3GPP TS 23.040 §9.2.3.24.1.
CAPACITY = {GSM7: (160, 153), UCS2: (70, 67)}


def parts(text: str) -> int:
    """How many SMS parts ``text`` takes (an empty text still takes one).

    An escape pair (GSM-7 extension character) or a surrogate pair (UCS-2 emoji)
    is never split across parts, so a part may carry one unit fewer than its
    capacity.
    """
    return _parts(text, text_length(text))


def _parts(text: str, length: Length) -> int:
    single, multi = CAPACITY[length.encoding]
    if length.units <= single:
        return 1
    count, used = 1, 0
    for ch in text:
        if length.encoding == GSM7:
            cost = 2 if ch in GSM7_EXTENSION else 1
        else:
            cost = 2 if ord(ch) > 0xFFFF else 1
        if used + cost > multi:
            count, used = count + 1, 0
        used += cost
    return count


#: Punctuation a word processor or keyboard puts in that GSM-7 lacks.
_PUNCTUATION = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\t": " ",
}


def gsm7_lookalike(text: str) -> str:
    """Replace each character outside GSM-7 by its GSM-7 lookalike where one exists.

    Letters keep their base letter (``ê`` → ``e``, ``ç`` → ``c``); letters already
    in GSM-7 keep their accents (``é``, ``è``, ``à``); curly quotes, dashes and
    the ellipsis become ``'``, ``"``, ``-`` and ``...``. Characters with no
    lookalike (Chinese, emoji) are left as they are.
    """
    out: list[str] = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
            out.append(ch)
        elif ch in _PUNCTUATION:
            out.append(_PUNCTUATION[ch])
        else:
            base = unicodedata.normalize("NFD", ch)[0]
            out.append(base if base != ch and base in GSM7_BASIC else ch)
    return "".join(out)


@dataclass(frozen=True)
class Segments:
    """How a text goes out as SMS, and what a few characters cost (``analyse``).

    ``units`` are GSM-7 septets or UTF-16 units as ``encoding`` says; ``per_part``
    is the capacity of each of the ``parts`` in those units (160/70 for one part,
    153/67 once concatenated: 3GPP TS 23.040 §9.2.3.24.1). ``ucs2_characters``
    holds each distinct character outside GSM-7 (3GPP TS 23.038 §6.2.1) with
    its count, in order of first appearance. ``lookalike`` is
    ``gsm7_lookalike(text)`` when that differs from the text (else None), and
    ``lookalike_parts`` its parts (None with it). ``warning`` is a sentence for
    operators, in English, when the lookalike would take fewer parts.
    """

    encoding: str
    units: int
    parts: int
    per_part: int
    ucs2_characters: tuple[tuple[str, int], ...]
    lookalike: str | None
    lookalike_parts: int | None
    warning: str | None


def analyse(text: str) -> Segments:
    """Encoding, length and parts of ``text`` (as ``text_length`` and ``parts``),
    the characters that force UCS-2, and a warning when swapping those for their
    GSM-7 lookalikes would send fewer parts. No warning when the text needs
    UCS-2 anyway (Chinese, emoji): there is nothing to replace them with."""
    length = text_length(text)
    count = _parts(text, length)
    single, multi = CAPACITY[length.encoding]
    ucs2 = tuple(
        Counter(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION).items()
    )
    folded = gsm7_lookalike(text) if ucs2 else text
    lookalike = folded if folded != text else None
    lookalike_parts = None
    warning = None
    if lookalike is not None:
        folded_length = text_length(lookalike)
        lookalike_parts = _parts(lookalike, folded_length)
        if folded_length.encoding == GSM7 and lookalike_parts < count:
            warning = _warning(ucs2, count, lookalike_parts)
    return Segments(
        encoding=length.encoding,
        units=length.units,
        parts=count,
        per_part=single if count == 1 else multi,
        ucs2_characters=ucs2,
        lookalike=lookalike,
        lookalike_parts=lookalike_parts,
        warning=warning,
    )


#: Characters a warning names one by one; more are counted.
_NAMED = 3


def _warning(characters: tuple[tuple[str, int], ...], parts: int, folded_parts: int) -> str:
    """E.g. "’ (U+2019) makes this message UCS-2: 3 parts instead of 1. Replace it
    with ' to send GSM-7." Every character here has a lookalike (the caller
    checked that the lookalike is GSM-7)."""
    named = [_show(ch, n) for ch, n in characters[:_NAMED]]
    more = len(characters) - _NAMED
    if more > 0:
        named.append(f"{more} more character{'s' if more > 1 else ''}")
    subject = _and(named)
    verb = "makes" if len(characters) == 1 else "make"
    cost = f"{parts} parts instead of {folded_parts}"
    if more > 0:
        fix = "Replace them with their GSM-7 lookalikes"
    else:
        swaps = _and([_replacement(gsm7_lookalike(ch)) for ch, _n in characters])
        fix = f"Replace {'it' if len(characters) == 1 else 'them'} with {swaps}"
    return f"{subject} {verb} this message UCS-2: {cost}. {fix} to send GSM-7."


def _show(ch: str, n: int) -> str:
    """``’ (U+2019)``; an invisible character by name: ``U+00A0 NO-BREAK SPACE``."""
    code = f"U+{ord(ch):04X}"
    if ch.isprintable() and not ch.isspace():
        return f"{ch} ({code}, {n} times)" if n > 1 else f"{ch} ({code})"
    named = f"{code} {unicodedata.name(ch, 'control character')}"
    return f"{named} ({n} times)" if n > 1 else named


def _replacement(text: str) -> str:
    return "a space" if text == " " else text


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"

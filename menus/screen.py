"""Fitting a screen's text onto USSD screens: measure, then paginate.

A screen is ``CON `` + text. It must fit the handset's limit *after*
translation: 160 GSM-7 septets, or 70 UTF-16 units as soon as one character
needs UCS-2 (3GPP TS 23.038; both limits are settings). Content longer than one
screen is split into pages at word boundaries (between characters for Chinese),
never mid-word; the page index is all the session keeps.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from domain.sms_encoding import GSM7_BASIC, GSM7_EXTENSION, gsm7_lookalike


class Limits(NamedTuple):
    gsm7: int = 160
    ucs2: int = 70


class _Size(NamedTuple):
    septets: int  # GSM-7 septets; meaningless once ``ucs2`` is set
    utf16: int
    ucs2: bool  # some character needs UCS-2

    def __add__(self, other: object) -> _Size:
        assert isinstance(other, _Size)
        return _Size(
            self.septets + other.septets, self.utf16 + other.utf16, self.ucs2 or other.ucs2
        )

    def fits(self, limits: Limits) -> bool:
        return self.utf16 <= limits.ucs2 if self.ucs2 else self.septets <= limits.gsm7


@lru_cache(maxsize=65536)
def size(text: str) -> _Size:
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
    return _Size(septets, utf16, ucs2)


NEWLINE = size("\n")

# A word, a run of spaces, or one CJK character (Chinese has no spaces between words,
# so a page may break between any two characters).
_TOKEN = re.compile(
    r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]|\s+|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+"
)


class Page(NamedTuple):
    text: str  # without the "CON " prefix
    last: bool
    start: int  # characters of body and lines before this page: where it starts


class Layout(NamedTuple):
    """What a state shows, already translated."""

    title: str
    body: str
    lines: tuple[str, ...]  # numbered options and items, one per line
    nav_last: str  # navigation on the last page ("0 Back 00 Home"), may be ""
    nav_more: str  # navigation on every other page ("98 More\n0 Back")
    banner: str = ""  # a one-line error or notice: heads every page, in the title's place


@lru_cache(maxsize=8192)
def paginate(layout: Layout, prefix: str, limits: Limits) -> tuple[Page, ...]:
    """Split ``layout`` into pages that each fit ``limits`` with ``prefix`` in front.

    The title (or the banner, when there is one) starts page one and the banner
    every later page; body words flow onto as many pages as needed, then
    option lines follow, whole. Every page but the last ends with ``nav_more``.
    Returns at least one page. A single option line longer than a screen is
    broken like body text (the journey test keeps content from doing that).
    """
    pieces: list[tuple[str, bool, int]] = []  # (text, is_line_start, line index or -1)
    if layout.body:
        pieces.extend((tok, False, -1) for tok in _TOKEN.findall(layout.body))
    for i, line in enumerate(layout.lines):
        pieces.append((line, True, i))

    pages: list[Page] = []
    base = size(prefix)
    idx = 0
    header = layout.banner or layout.title
    while True:
        rest_size = _rest_size(pieces, idx, header, layout.nav_last)
        if (base + rest_size).fits(limits):
            pages.append(
                Page(
                    _join(pieces, idx, len(pieces), header, layout.nav_last),
                    True,
                    _chars(pieces, idx),
                )
            )
            return tuple(pages)
        end = _fill(pieces, idx, header, layout.nav_more, base, limits)
        if end == idx and header and header != layout.banner:
            # The title leaves no room for the next line: let it have a page.
            pages.append(
                Page(_join(pieces, idx, idx, header, layout.nav_more), False, _chars(pieces, idx))
            )
            header = layout.banner
            continue
        if end == idx:  # one piece wider than a whole screen (a URL, say): cut it
            text, is_line, li = pieces[idx]
            cut = 1
            while cut < len(text) and (
                base + size(_join([(text[: cut + 1], is_line, li)], 0, 1, header, layout.nav_more))
            ).fits(limits):
                cut += 1
            pieces[idx : idx + 1] = [(text[:cut], is_line, li), (text[cut:], False, -1)]
            end = idx + 1
        pages.append(
            Page(_join(pieces, idx, end, header, layout.nav_more), False, _chars(pieces, idx))
        )
        idx = end
        while idx < len(pieces) and not pieces[idx][1] and pieces[idx][0].isspace():
            idx += 1
        header = layout.banner


def _chars(pieces: list[tuple[str, bool, int]], idx: int) -> int:
    return sum(len(text) for text, _is_line, _li in pieces[:idx])


def page_at(pages: tuple[Page, ...], offset: int) -> int:
    """The index of the page that shows content character ``offset``."""
    found = 0
    for i, page in enumerate(pages):
        if page.start <= offset:
            found = i
    return found


def _blocks(
    pieces: list[tuple[str, bool, int]], start: int, end: int, header: str, nav: str
) -> list[str]:
    blocks: list[str] = [header] if header else []
    body = "".join(t for t, is_line, _ in pieces[start:end] if not is_line).strip()
    if body:
        blocks.append(body)
    blocks.extend(t for t, is_line, _ in pieces[start:end] if is_line)
    if nav:
        blocks.append(nav)
    return blocks


def _join(pieces: list[tuple[str, bool, int]], start: int, end: int, header: str, nav: str) -> str:
    return "\n".join(_blocks(pieces, start, end, header, nav))


def _rest_size(pieces: list[tuple[str, bool, int]], start: int, header: str, nav: str) -> _Size:
    return size(_join(pieces, start, len(pieces), header, nav))


def _fill(
    pieces: list[tuple[str, bool, int]],
    start: int,
    header: str,
    nav: str,
    base: _Size,
    limits: Limits,
) -> int:
    """The end index of the longest run from ``start`` that fits with ``nav``."""
    end = start
    while end < len(pieces):
        if not (base + size(_join(pieces, start, end + 1, header, nav))).fits(limits):
            break
        end += 1
    return end


@lru_cache(maxsize=8192)
def fold_to_gsm7(layout: Layout) -> Layout:
    """``layout`` with GSM-7 lookalikes (``ê`` → ``e``) when that makes the whole
    screen GSM-7, so a French screen gets 160 septets instead of 70 UCS-2 units;
    otherwise ``layout`` unchanged (Chinese stays as it is)."""
    folded = Layout(
        gsm7_lookalike(layout.title),
        gsm7_lookalike(layout.body),
        tuple(gsm7_lookalike(line) for line in layout.lines),
        gsm7_lookalike(layout.nav_last),
        gsm7_lookalike(layout.nav_more),
        gsm7_lookalike(layout.banner),
    )
    if any(size(text).ucs2 for text in folded[:2] + folded.lines + folded[3:]):
        return layout
    return folded

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

from domain.sms_encoding import gsm7_lookalike, measure


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
    return _Size(*measure(text))


NEWLINE = size("\n")

# A word, a run of spaces, or one CJK character (Chinese has no spaces between words,
# so a page may break between any two characters); closing punctuation stays with
# what it closes, so no page starts with "。" or "，".
_CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
_CLOSING = "，。、；：？！）」』》〉】,.;:?!)"
_TOKEN = re.compile(rf"[{_CJK}][{_CLOSING}]*|\s+|[^\s{_CJK}]+[{_CLOSING}]*")


class Page(NamedTuple):
    text: str  # content and navigation, without the header line or the "CON " prefix
    last: bool
    start: int  # characters of body and lines before this page: where it starts
    keys: frozenset[str] = frozenset()  # the numbers of the option lines it shows


class Layout(NamedTuple):
    """What a state shows, already translated."""

    title: str  # heads the first page
    body: str
    lines: tuple[str, ...]  # numbered options and items, one per line
    nav_last: str  # navigation on the last page ("0 Back 00 Home"), may be ""
    nav_more: str  # navigation on every other page ("98 More\n0 Back")
    reserve: tuple[str, ...] = ()  # banners (error, notice) any page must have room for


@lru_cache(maxsize=8192)
def paginate(layout: Layout, prefix: str, limits: Limits) -> tuple[Page, ...]:
    """Split ``layout`` into pages that each fit ``limits`` with ``prefix`` in front.

    Body words flow onto as many pages as needed, then option lines follow,
    whole. Every page but the last ends with ``nav_more``. The first page has
    room for the title, and every page for any one of ``reserve``, so a banner
    shown in the title's place (or above a later page) never moves a page
    break: the caller sees the same page with or without it. Returns at least
    one page. A single word or line wider than a screen is cut.
    """
    pieces: list[tuple[str, bool]] = []  # (text, is an option line)
    if layout.body:
        pieces.extend((tok, False) for tok in _TOKEN.findall(layout.body))
    pieces.extend((line, True) for line in layout.lines)

    base = size(prefix)
    first_headers = (layout.title, *layout.reserve)
    rest_headers = layout.reserve or ("",)

    def fits(start: int, end: int, headers: tuple[str, ...], nav: str) -> bool:
        return all(
            (base + size(_join(pieces, start, end, header, nav))).fits(limits) for header in headers
        )

    pages: list[Page] = []
    idx = 0
    headers = first_headers
    while True:
        if fits(idx, len(pieces), headers, layout.nav_last):
            text = _join(pieces, idx, len(pieces), "", layout.nav_last)
            pages.append(Page(text, True, _chars(pieces, idx), _keys(pieces, idx, len(pieces))))
            return tuple(pages)
        end = idx
        while end < len(pieces) and fits(idx, end + 1, headers, layout.nav_more):
            end += 1
        if (
            end == idx
            and headers is first_headers
            and fits(idx, idx + 1, rest_headers, layout.nav_more)
        ):
            # The title leaves no room for the next line: let it have a page.
            pages.append(
                Page(_join(pieces, idx, idx, "", layout.nav_more), False, _chars(pieces, idx))
            )
            headers = rest_headers
            continue
        if end == idx:  # one piece wider than a whole screen (a URL, say): cut it
            text, is_line = pieces[idx]
            cut = 1
            while cut < len(text) and all(
                (base + size(_join([(text[: cut + 1], is_line)], 0, 1, h, layout.nav_more))).fits(
                    limits
                )
                for h in headers
            ):
                cut += 1
            pieces[idx : idx + 1] = [(text[:cut], is_line), (text[cut:], False)]
            end = idx + 1
        text = _join(pieces, idx, end, "", layout.nav_more)
        pages.append(Page(text, False, _chars(pieces, idx), _keys(pieces, idx, end)))
        idx = end
        while idx < len(pieces) and not pieces[idx][1] and pieces[idx][0].isspace():
            idx += 1
        headers = rest_headers


def _keys(pieces: list[tuple[str, bool]], start: int, end: int) -> frozenset[str]:
    return frozenset(t.partition(" ")[0] for t, is_line in pieces[start:end] if is_line)


def _chars(pieces: list[tuple[str, bool]], idx: int) -> int:
    return sum(len(text) for text, _is_line in pieces[:idx])


def page_at(pages: tuple[Page, ...], offset: int) -> int:
    """The index of the page that shows content character ``offset``."""
    found = 0
    for i, page in enumerate(pages):
        if page.start <= offset:
            found = i
    return found


def compose(header: str, page: Page) -> str:
    """A page's text under its header line (title, error or notice), if any."""
    return f"{header}\n{page.text}" if header and page.text else header or page.text


def _join(pieces: list[tuple[str, bool]], start: int, end: int, header: str, nav: str) -> str:
    blocks: list[str] = [header] if header else []
    body = "".join(t for t, is_line in pieces[start:end] if not is_line).strip()
    if body:
        blocks.append(body)
    blocks.extend(t for t, is_line in pieces[start:end] if is_line)
    if nav:
        blocks.append(nav)
    return "\n".join(blocks)


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
        tuple(gsm7_lookalike(text) for text in layout.reserve),
    )
    texts = (
        folded.title,
        folded.body,
        *folded.lines,
        folded.nav_last,
        folded.nav_more,
        *folded.reserve,
    )
    if any(size(text).ucs2 for text in texts):
        return layout
    return folded

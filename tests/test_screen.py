"""Pagination: pages fit the limit with their prefix, words are never cut."""

import re

import pytest

from menus.screen import Layout, Limits, compose, page_at, paginate, size

LIMITS = Limits(160, 70)
NAV_MORE = "98 More\n0 Back"
NAV_LAST = "0 Back 00 Home"


def _fits(text: str, limits: Limits = LIMITS) -> bool:
    return size(text).fits(limits)


def test_short_screen_is_one_page() -> None:
    pages = paginate(Layout("Menu", "", ("1 One", "2 Two"), NAV_LAST, NAV_MORE), "CON ", LIMITS)
    assert [compose("Menu", p) for p in pages] == ["Menu\n1 One\n2 Two\n0 Back 00 Home"]
    assert pages[0].last


def test_long_body_splits_between_words_and_every_page_fits() -> None:
    words = [f"word{i}" for i in range(120)]
    pages = paginate(
        Layout("Title", " ".join(words), ("1 Send",), NAV_LAST, NAV_MORE), "CON ", LIMITS
    )
    assert len(pages) > 3
    seen: list[str] = []
    for i, page in enumerate(pages):
        assert _fits("CON " + compose("Title" if i == 0 else "", page))
        body = page.text.split("\n98 More")[0].split("\n1 Send")[0]
        seen += body.split()
    assert seen == words  # nothing lost, nothing cut, nothing repeated
    assert all(p.text.endswith(NAV_MORE) for p in pages[:-1])
    assert pages[-1].text.endswith("1 Send\n0 Back 00 Home")


def test_chinese_breaks_between_characters_at_the_ucs2_limit() -> None:
    body = "老年人和重度残疾人每月可领取现金补助。" * 6
    pages = paginate(
        Layout("现金补助", body, (), "0 返回 00 主页", "98 更多\n0 返回"), "CON ", LIMITS
    )
    assert len(pages) >= 2
    assert all(
        len("CON " + compose("现金补助" if i == 0 else "", p)) <= 70 for i, p in enumerate(pages)
    )
    joined = "".join(re.sub(r"\n98 更多\n0 返回$|\n0 返回 00 主页$", "", p.text) for p in pages)
    assert joined == body


def test_extension_characters_count_two_septets() -> None:
    text = "€" * 78  # 156 septets: with "CON " it is 160
    assert _fits("CON " + text)
    assert not _fits("CON " + text + "€")


def test_option_lines_are_never_split() -> None:
    lines = tuple(f"{i} Option number {i}" for i in range(1, 30))
    pages = paginate(Layout("Pick", "", lines, NAV_LAST, NAV_MORE), "CON ", LIMITS)
    shown = [ln for p in pages for ln in p.text.split("\n") if re.match(r"^\d+ Option", ln)]
    assert shown == list(lines)


def test_a_word_wider_than_the_screen_is_cut_rather_than_lost() -> None:
    url = "https://example.org/" + "q" * 300
    pages = paginate(Layout("T", url, (), NAV_LAST, NAV_MORE), "CON ", LIMITS)
    assert all(_fits("CON " + compose("T" if i == 0 else "", p)) for i, p in enumerate(pages))
    assert "".join(p.text for p in pages).count("q") == 300


@pytest.mark.parametrize("limits", [Limits(160, 70), Limits(120, 50), Limits(182, 91)])
def test_limits_are_settings(limits: Limits) -> None:
    body = "Plain words for people with little schooling. " * 10
    for i, page in enumerate(paginate(Layout("T", body, (), NAV_LAST, NAV_MORE), "CON ", limits)):
        assert _fits("CON " + compose("T" if i == 0 else "", page), limits)


def test_a_banner_never_moves_a_page_break() -> None:
    body = "Give ORS and zinc when a child has diarrhoea, and keep feeding. " * 8
    banners = ("Invalid choice.", "Session restarted.")
    layout = Layout("ORS and zinc", body, ("1 Send",), NAV_LAST, NAV_MORE, banners)
    pages = paginate(layout, "CON ", LIMITS)
    assert len(pages) >= 3
    for i, page in enumerate(pages):
        for header in (("ORS and zinc",) if i == 0 else ("",)) + banners:
            assert _fits("CON " + compose(header, page)), (i, header)
        assert page_at(pages, page.start) == i

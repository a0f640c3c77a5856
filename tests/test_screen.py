"""Pagination: pages fit the limit with their prefix, words are never cut."""

import re

import pytest

from menus.screen import Layout, Limits, paginate, size

LIMITS = Limits(160, 70)
NAV_MORE = "98 More\n0 Back"
NAV_LAST = "0 Back 00 Home"


def _fits(text: str, limits: Limits = LIMITS) -> bool:
    return size(text).fits(limits)


def test_short_screen_is_one_page() -> None:
    pages = paginate(Layout("Menu", "", ("1 One", "2 Two"), NAV_LAST, NAV_MORE), "CON ", LIMITS)
    assert [p.text for p in pages] == ["Menu\n1 One\n2 Two\n0 Back 00 Home"]
    assert pages[0].last


def test_long_body_splits_between_words_and_every_page_fits() -> None:
    words = [f"word{i}" for i in range(120)]
    pages = paginate(
        Layout("Title", " ".join(words), ("1 Send",), NAV_LAST, NAV_MORE), "CON ", LIMITS
    )
    assert len(pages) > 3
    seen: list[str] = []
    for page in pages:
        assert _fits("CON " + page.text)
        body = page.text.removeprefix("Title\n").split("\n98 More")[0].split("\n1 Send")[0]
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
    assert all(len("CON " + p.text) <= 70 for p in pages)
    joined = "".join(
        re.sub(r"^现金补助\n|\n98 更多\n0 返回$|\n0 返回 00 主页$", "", p.text) for p in pages
    )
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
    assert all(_fits("CON " + p.text) for p in pages)
    assert (
        "".join(
            p.text.replace("T\n", "", 1) if i == 0 else p.text for i, p in enumerate(pages)
        ).count("q")
        == 300
    )


@pytest.mark.parametrize("limits", [Limits(160, 70), Limits(120, 50), Limits(182, 91)])
def test_limits_are_settings(limits: Limits) -> None:
    body = "Plain words for people with little schooling. " * 10
    for page in paginate(Layout("T", body, (), NAV_LAST, NAV_MORE), "CON ", limits):
        assert _fits("CON " + page.text, limits)

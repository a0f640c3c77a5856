"""``analyse``: parts, capacity, the characters that force UCS-2, and the warning."""

from __future__ import annotations

import json

import pytest

from domain.sms_encoding import GSM7, UCS2, Segments, analyse, parts, text_length
from tests.conftest import FIXTURES

# The shared vectors (/work/shared/cases/sms/segments.jsonl) are this file, unchanged.
VECTORS = [json.loads(line) for line in (FIXTURES / "sms-segments.jsonl").open(encoding="utf-8")]


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_segment_vectors(case: dict[str, object]) -> None:
    seg = analyse(str(case["text"]))
    assert (seg.encoding, seg.units, seg.parts) == (case["encoding"], case["units"], case["parts"])
    single, multi = (160, 153) if seg.encoding == GSM7 else (70, 67)
    assert seg.per_part == (single if seg.parts == 1 else multi)
    assert (seg.encoding == UCS2) == bool(seg.ucs2_characters)


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_analyse_agrees_with_text_length_and_parts(case: dict[str, object]) -> None:
    text = str(case["text"])
    seg = analyse(text)
    assert (seg.encoding, seg.units) == text_length(text)
    assert seg.parts == parts(text)


def test_a_curly_quote_in_a_one_part_text_makes_three() -> None:
    text = "Don’t miss the water meeting on Monday at the borehole near the school. " * 2
    seg = analyse(text.strip())
    assert (seg.encoding, seg.units, seg.parts, seg.per_part) == (UCS2, 143, 3, 67)
    assert seg.ucs2_characters == (("’", 2),)
    assert seg.lookalike == text.strip().replace("’", "'")
    assert seg.lookalike_parts == 1
    assert seg.warning == (
        "’ (U+2019, 2 times) makes this message UCS-2: 3 parts instead of 1. "
        "Replace it with ' to send GSM-7."
    )


def test_the_example_sentence() -> None:
    seg = analyse("It’s " + "a" * 140)
    assert seg.warning == (
        "’ (U+2019) makes this message UCS-2: 3 parts instead of 1. "
        "Replace it with ' to send GSM-7."
    )


def test_accented_letters_outside_gsm7() -> None:
    text = "Réunion à la forêt, reçu demain. " + "x" * 120
    seg = analyse(text)
    assert seg.encoding == UCS2 and seg.parts == 3
    # é and à are GSM-7 and stay; ê and ç are not.
    assert seg.ucs2_characters == (("ê", 1), ("ç", 1))
    assert seg.lookalike == "Réunion à la foret, recu demain. " + "x" * 120
    assert seg.lookalike_parts == 1
    assert seg.warning == (
        "ê (U+00EA) and ç (U+00E7) make this message UCS-2: 3 parts instead of 1. "
        "Replace them with e and c to send GSM-7."
    )


def test_en_dash() -> None:
    seg = analyse("Clinic open 8–5 " + "b" * 60)
    assert (seg.parts, seg.lookalike_parts) == (2, 1)
    assert seg.warning == (
        "– (U+2013) makes this message UCS-2: 2 parts instead of 1. "
        "Replace it with - to send GSM-7."
    )


def test_ellipsis_costs_three_septets_and_still_saves_parts() -> None:
    seg = analyse("More soon… " + "c" * 140)
    assert seg.lookalike == "More soon... " + "c" * 140
    assert text_length(seg.lookalike) == (GSM7, 153)
    assert (seg.parts, seg.lookalike_parts) == (3, 1)
    assert seg.warning == (
        "… (U+2026) makes this message UCS-2: 3 parts instead of 1. "
        "Replace it with ... to send GSM-7."
    )


def test_invisible_characters_are_named() -> None:
    seg = analyse("Pay\u00a0day " + "d" * 70)
    assert seg.warning == (
        "U+00A0 NO-BREAK SPACE makes this message UCS-2: 2 parts instead of 1. "
        "Replace it with a space to send GSM-7."
    )


def test_many_characters_are_counted_not_listed() -> None:
    seg = analyse("“It’s – ê…” " + "e" * 70)
    assert seg.warning == (
        "“ (U+201C), ’ (U+2019), – (U+2013) and 3 more characters make this message "
        "UCS-2: 2 parts instead of 1. Replace them with their GSM-7 lookalikes to send GSM-7."
    )


def test_no_warning_when_the_lookalike_takes_as_many_parts() -> None:
    seg = analyse("Don’t miss it")  # one part either way
    assert seg.encoding == UCS2
    assert seg.lookalike == "Don't miss it" and seg.lookalike_parts == 1
    assert seg.warning is None


def test_no_warning_for_pure_gsm7() -> None:
    seg = analyse("Habari! Mkutano wa maji ni Jumatatu. " * 6)
    assert seg == Segments(GSM7, 222, 2, 153, (), None, None, None)


def test_no_warning_for_chinese() -> None:
    seg = analyse("会议在星期一。" * 20)
    assert (seg.encoding, seg.parts) == (UCS2, 3)
    assert seg.ucs2_characters == (("会", 20), ("议", 20), ("在", 20), ("星", 20), ("期", 20),
                                   ("一", 20), ("。", 20))  # fmt: skip
    assert (seg.lookalike, seg.lookalike_parts, seg.warning) == (None, None, None)


def test_no_warning_for_emoji() -> None:
    seg = analyse("Maize 🌽 prices up " * 5)
    assert seg.encoding == UCS2 and seg.ucs2_characters == (("🌽", 5),)
    assert (seg.lookalike, seg.warning) == (None, None)


def test_no_warning_when_chinese_remains_after_the_lookalike() -> None:
    seg = analyse("“会议”" + "在" * 80)
    assert seg.lookalike == '"会议"' + "在" * 80
    assert seg.lookalike_parts == seg.parts == 2
    assert seg.warning is None


def test_an_emoji_is_never_split_across_parts() -> None:
    # 134 units would fill two 67-unit parts exactly, but only if the surrogate
    # pair at units 67-68 could be split: it moves whole, and a third part follows.
    straddling = "a" * 66 + "🌽" + "a" * 66
    assert (analyse(straddling).units, analyse(straddling).parts) == (134, 3)
    # The pair ending exactly at unit 67: two parts.
    aligned = "a" * 65 + "🌽" + "a" * 67
    assert (analyse(aligned).units, analyse(aligned).parts) == (134, 2)
    # 70 units with an emoji is still one part; 71 is two.
    assert analyse("a" * 68 + "🌽").parts == 1
    assert analyse("a" * 69 + "🌽").parts == 2

import json

import pytest

from domain.sms_encoding import GSM7, UCS2, fits, parts, text_length
from tests.conftest import FIXTURES

VECTORS = [json.loads(line) for line in (FIXTURES / "sms-segments.jsonl").open(encoding="utf-8")]


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_segment_vectors(case: dict[str, object]) -> None:
    length = text_length(str(case["text"]))
    assert (length.encoding, length.units, parts(str(case["text"]))) == (
        case["encoding"],
        case["units"],
        case["parts"],
    )


def test_extension_characters_count_two() -> None:
    assert text_length("€[]{}~^|\\") == (GSM7, 18)


def test_one_non_gsm_character_switches_the_whole_text() -> None:
    assert text_length("a" * 100 + "ê") == (UCS2, 101)


def test_escape_pair_is_not_split_across_parts() -> None:
    # 152 septets then an escape pair: the pair moves whole to part two.
    assert parts("a" * 152 + "€" + "a" * 10) == 2
    assert parts("a" * 152 + "€" + "a" * 152) == 3


def test_fits_uses_the_ucs2_limit_once_any_character_needs_it() -> None:
    assert fits("a" * 160, 160, 70)
    assert not fits("a" * 69 + "中", 160, 69)
    assert fits("中" * 70, 160, 70)


def test_gsm7_lookalike_keeps_gsm_accents_and_folds_the_rest() -> None:
    from domain.sms_encoding import gsm7_lookalike

    assert gsm7_lookalike("Ça coûte très cher à Niamey, même là-bas…") == (
        "Ça coute très cher à Niamey, meme là-bas..."
    )
    assert gsm7_lookalike("It\u2019s \u201cfree\u201d \u2013 apply") == 'It\'s "free" - apply'
    assert gsm7_lookalike("中文 🌽") == "中文 🌽"
    assert text_length(gsm7_lookalike("aînés, âgées, bientôt, reçu")).encoding == GSM7

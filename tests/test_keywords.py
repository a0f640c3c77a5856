"""SMS keywords: STOP, START and HELP in four languages, typed as people type them."""

from __future__ import annotations

import json

import pytest

from domain.keywords import VOCABULARY, Keyword, match
from tests.conftest import FIXTURES

CASES = [
    json.loads(line)
    for line in (FIXTURES / "sms" / "inbound-keywords.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]

#: The keyword each fixture text is, by its gateway id; None: not one of ours (yet).
FIXTURE_KEYWORDS: dict[str, Keyword | None] = {
    "ATXid_kw0": Keyword("stop", "en"),
    "ATXid_kw1": Keyword("stop", "en"),
    "ATXid_kw2": Keyword("stop", "en"),
    "ATXid_kw3": Keyword("stop", "sw"),
    "ATXid_kw4": Keyword("stop", "fr"),
    "ATXid_kw5": Keyword("stop", "zh"),
    "ATXid_kw6": Keyword("start", "en"),
    "ATXid_kw7": Keyword("help", "en"),
    "ATXid_kw8": Keyword("help", "sw"),
    "ATXid_kw9": Keyword("help", "fr"),
    "ATXid_kw10": Keyword("help", "zh"),
    "ATXid_kw11": None,  # JOBS, KAZI, LANG, CANCEL, SOLD: commands of the offer parser
    "ATXid_kw12": None,
    "ATXid_kw13": None,
    "ATXid_kw14": None,
    "ATXid_kw15": None,
    "ATXid_kw16": None,
    "ATXid_kw17": None,  # empty
    "ATXid_kw18": None,  # emoji
}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_fixture_texts(case: dict[str, str]) -> None:
    assert match(case["text"]) == FIXTURE_KEYWORDS[case["id"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" stop. ", Keyword("stop", "en")),
        ("Stop please", Keyword("stop", "en")),
        ("STOP!!!", Keyword("stop", "en")),
        ("\tstop\n", Keyword("stop", "en")),
        ("ＳＴＯＰ", Keyword("stop", "en")),  # full-width
        ("opt out", Keyword("stop", "en")),
        ("Opt-out please", Keyword("stop", "en")),
        ("OPTOUT", Keyword("stop", "en")),
        ("end", Keyword("stop", "en")),
        ("Unsubscribe me", Keyword("stop", "en")),
        ("unstop", Keyword("start", "en")),
        ("Info?", Keyword("help", "en")),
        ("acha tafadhali", Keyword("stop", "sw")),
        ("Endelea", Keyword("start", "sw")),
        ("saidia", Keyword("help", "sw")),
        ("arrêt", Keyword("stop", "fr")),
        ("Arret svp", Keyword("stop", "fr")),
        ("désabonner", Keyword("stop", "fr")),
        ("DESABONNER", Keyword("stop", "fr")),
        ("Démarrer", Keyword("start", "fr")),
        ("DEMARRER", Keyword("start", "fr")),
        ("reprendre", Keyword("start", "fr")),
        ("aide.", Keyword("help", "fr")),
        ("退订谢谢", Keyword("stop", "zh")),
        ("  退订！", Keyword("stop", "zh")),
        ("，退 订", Keyword("stop", "zh")),
        ("TD", Keyword("stop", "zh")),
        ("td退订", Keyword("stop", "zh")),
        ("取消订阅", Keyword("stop", "zh")),
        ("停止", Keyword("stop", "zh")),
        ("订阅", Keyword("start", "zh")),
        ("开始吧", Keyword("start", "zh")),
        ("帮助", Keyword("help", "zh")),
        ("STOPPED", None),
        ("Ending", None),
        ("Please stop", None),
        ("stop2", None),
        ("helpful", None),
        ("我要退订", None),
        ("1", None),
        ("   ", None),
        ("...", None),
    ],
)
def test_spellings(text: str, expected: Keyword | None) -> None:
    assert match(text) == expected


def test_every_vocabulary_word_matches_itself() -> None:
    for language, names in VOCABULARY.items():
        for name, spellings in names.items():
            for spelling in spellings:
                found = match(spelling)
                # STOP is both English and French: it belongs to the first listed.
                expected_language = "en" if spelling == "STOP" else language
                assert found == Keyword(name, expected_language), spelling


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("END", Keyword("stop", "en")),
        ("quit.", Keyword("stop", "en")),
        ("End of season prices?", None),
        ("quit smoking tips", None),
        ("arrête svp", Keyword("stop", "fr")),
        ("Arrêtez", Keyword("stop", "fr")),
    ],
)
def test_end_and_quit_only_alone_and_french_imperatives(
    text: str, expected: Keyword | None
) -> None:
    assert match(text) == expected

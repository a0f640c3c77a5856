"""Scoring the parser on a labelled corpus (``tests/fixtures/sms/produce-offers.jsonl``,
``python -m bench.offers``): ``expect_of`` puts a result in the corpus's ``expect``
shape; ``evaluate`` parses each row and counts in an ``Accuracy`` what came out
right, with a ``Miss`` for each row that did not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.offer_parser.grammar import parse
from domain.offer_parser.results import Command, Offer, Parsed, Unclear
from domain.offer_parser.vocabulary import LANGUAGES

OFFER_FIELDS = ("produce", "quantity", "unit", "unit_price", "total_price", "currency", "location")


def expect_of(result: Parsed) -> dict[str, object]:
    """``result`` in the corpus's ``expect`` shape (numbers as Decimal)."""
    if isinstance(result, Offer):
        return {"kind": "offer"} | {f: getattr(result, f) for f in OFFER_FIELDS}
    if isinstance(result, Command):
        return {"kind": "command", "command": result.command, "arg": result.arg}
    if isinstance(result, Unclear):
        return {"kind": "unclear", "problem": result.problem}
    return {"kind": "unparseable"}


def _same(a: object, b: object) -> bool:
    numbers = (int, float, Decimal)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool):
        return Decimal(str(a)) == Decimal(str(b))
    return a == b


@dataclass(frozen=True)
class Miss:
    id: str
    text: str
    expected: dict[str, object]
    got: dict[str, object]


@dataclass(frozen=True)
class Accuracy:
    """Scores over a corpus: ``messages`` rows, ``exact`` parsed exactly right,
    ``kinds`` of the right kind; ``fields[f]`` offers with field ``f`` right out
    of ``offers`` expected; ``languages`` (right, asked) over rows labelled with
    one language; ``misses`` the rows not exactly right."""

    messages: int
    exact: int
    kinds: int
    offers: int
    fields: dict[str, int]
    languages: tuple[int, int]
    misses: tuple[Miss, ...]

    @property
    def exact_share(self) -> float:
        return self.exact / self.messages if self.messages else 0.0

    @property
    def kind_share(self) -> float:
        return self.kinds / self.messages if self.messages else 0.0

    def field_share(self, name: str) -> float:
        return self.fields[name] / self.offers if self.offers else 0.0


def evaluate(rows: Iterable[Mapping[str, Any]]) -> Accuracy:
    """Parse each row's ``text`` and compare with its ``expect`` (the corpus format
    of ``tests/fixtures/sms/produce-offers.jsonl``)."""
    messages = exact = kinds = offers = 0
    fields = dict.fromkeys(OFFER_FIELDS, 0)
    language_right = language_asked = 0
    misses: list[Miss] = []
    for row in rows:
        expected: Mapping[str, Any] = row["expect"]
        result = parse(row["text"])
        got = expect_of(result)
        messages += 1
        kinds += got["kind"] == expected["kind"]
        if expected["kind"] == "offer":
            offers += 1
            for name in OFFER_FIELDS:
                fields[name] += got["kind"] == "offer" and _same(got[name], expected[name])
        if all(_same(got.get(k), v) for k, v in expected.items()):
            exact += 1
        else:
            misses.append(Miss(str(row.get("id", "")), row["text"], dict(expected), got))
        if row.get("lang") in LANGUAGES:
            language_asked += 1
            language_right += result.language == row["lang"]
    return Accuracy(
        messages, exact, kinds, offers, fields, (language_right, language_asked), tuple(misses)
    )

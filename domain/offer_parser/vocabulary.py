"""The words, from ``vocabularies/*.yaml``: ``load_vocabularies`` reads and checks
each file once (a wrong shape, an unknown language or a word given two meanings
raises ``ValueError`` naming the file and key) and indexes the words for the
tokenizer; ``unit_kg``, ``produce_name`` and ``unit_name`` answer from it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from domain.offer_parser.tokens import _CJK_ONLY, _split, fold

LANGUAGES = ("en", "sw", "fr", "zh")
VOCABULARIES = Path(__file__).resolve().parent.parent.parent / "vocabularies"


class Entry(NamedTuple):
    role: str  # produce, unit, currency, number, command, sell, price, ... (phrases.yaml)
    value: str | None  # the canonical produce or unit, ISO code, number or command
    language: str | None


@dataclass(frozen=True)
class Vocabulary:
    """``vocabularies/*.yaml`` indexed for the tokenizer: folded word tuples (Latin
    script) and strings (Chinese) → entries, and what the grammar looks up."""

    words: dict[tuple[str, ...], tuple[Entry, ...]]
    cjk: dict[str, tuple[Entry, ...]]
    longest: int  # words in the longest Latin phrase
    starts: frozenset[str]  # first words of Latin phrases of two words or more
    cjk_longest: int  # characters in the longest Chinese word
    fuzzy: dict[str, frozenset[str]]  # a produce word less one letter → produce
    weights: dict[str, tuple[Decimal | None, bool, dict[str, Decimal]]]  # kg, exact, per produce
    names: dict[tuple[str, str], str]  # (canonical produce or unit, language) → its first word
    subunits: dict[str, Decimal]  # folded word → fraction of the currency (毛: 0.1)
    language_names: dict[str, str]  # folded LANG argument → language code
    takes: dict[str, str]  # command → none | number | language | produce
    produce: tuple[str, ...]  # canonical produce, in produce.yaml's order


_ROLES: tuple[str, ...] = ("sell", "buy", "price", "at", "place", "per", "each", "total")
_ROLES += ("negotiable", "question", "contact", "filler")
_TAKES = ("none", "number", "language", "produce")
_UNIQUE = ("produce", "unit", "currency", "command", "number")  # one meaning per word


def _fail(path: Path, key: str, message: str) -> ValueError:
    return ValueError(f"{path.name}: {key}: {message}")


def _yaml(path: Path) -> dict[Any, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"{path.name}: missing ({path})") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path.name}: expected a mapping of names to entries")
    return data


def _wordlists(path: Path, key: str, value: object) -> dict[str, list[str]]:
    """``{language: [word, ...]}`` with known languages and non-empty strings."""
    if not isinstance(value, dict) or not value:
        raise _fail(path, key, "expected a mapping of language (en, sw, fr, zh) to words")
    for language, words in value.items():
        if language not in LANGUAGES:
            raise _fail(path, f"{key}.{language}", f"unknown language, expected {LANGUAGES}")
        if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
            raise _fail(path, f"{key}.{language}", "expected a list of words")
    return value


def _positive(path: Path, key: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _fail(path, key, "expected a positive number")
    return Decimal(str(value))


class _Index:
    """Collects the vocabularies' words, refusing one word with two meanings."""

    def __init__(self) -> None:
        self.words: dict[tuple[str, ...], list[Entry]] = {}
        self.cjk: dict[str, list[Entry]] = {}
        self.names: dict[tuple[str, str], str] = {}

    def add(self, path: Path, key: str, word: str, entry: Entry) -> None:
        folded = fold(word)
        if _CJK_ONLY.fullmatch(folded):
            entries = self.cjk.setdefault(folded, [])
        else:
            entries = self.words.setdefault(tuple(t for _, t, _ in _split(folded)), [])
        for old in entries:
            if old.role == entry.role and old.value != entry.value and entry.role in _UNIQUE:
                raise _fail(path, key, f"{word!r} is already {old.role} {old.value!r}")
        if entry not in entries:
            entries.append(entry)
        if entry.value and entry.language:
            self.names.setdefault((entry.value, entry.language), word)

    def lists(self, path: Path, key: str, role: str, value: str | None, lists: object) -> None:
        for language, words in _wordlists(path, key, lists).items():
            for word in words:
                self.add(path, key, word, Entry(role, value, language))


def _load_produce(index: _Index, path: Path) -> tuple[str, ...]:
    produce = _yaml(path)
    for name, languages in produce.items():
        index.lists(path, str(name), "produce", str(name), languages)
        index.add(path, str(name), str(name), Entry("produce", str(name), None))
    return tuple(str(name) for name in produce)


def _load_units(index: _Index, path: Path, produce: tuple[str, ...]) -> dict[str, Any]:
    weights: dict[str, Any] = {}
    for name, spec in _yaml(path).items():
        if not isinstance(spec, dict) or "words" not in spec or "kg" not in spec:
            raise _fail(path, str(name), "expected kg, exact and words")
        kg = None if spec["kg"] is None else _positive(path, f"{name}.kg", spec["kg"])
        exact = spec.get("exact", False)
        if not isinstance(exact, bool) or (exact and kg is None):
            raise _fail(path, f"{name}.exact", "expected true (with a kg) or false")
        overrides = spec.get("per_produce") or {}
        if not isinstance(overrides, dict):
            raise _fail(path, f"{name}.per_produce", "expected a mapping of produce to kg")
        for crop in overrides:
            if crop not in produce:
                raise _fail(path, f"{name}.per_produce.{crop}", "not in produce.yaml")
        per = {c: _positive(path, f"{name}.per_produce.{c}", w) for c, w in overrides.items()}
        weights[name] = (kg, exact, per)
        index.lists(path, f"{name}.words", "unit", name, spec["words"])
        index.add(path, str(name), str(name), Entry("unit", name, None))
    return weights


def _load_currencies(index: _Index, path: Path) -> dict[str, Decimal]:
    subunits: dict[str, Decimal] = {}
    for code, spec in _yaml(path).items():
        if not (code == "unnamed" or re.fullmatch(r"[A-Z]{3}", str(code))):
            raise _fail(path, str(code), "expected an ISO 4217 code or 'unnamed'")
        if not isinstance(spec, dict) or not isinstance(spec.get("words"), list):
            raise _fail(path, str(code), "expected words: [...]")
        value = None if code == "unnamed" else str(code)
        for key, role in (("words", "currency"), ("after_number", "currency_after")):
            words = spec.get(key, [])
            if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
                raise _fail(path, f"{code}.{key}", "expected a list of words")
            for word in words:
                index.add(path, f"{code}.{key}", word, Entry(role, value, None))
        for word, fraction in (spec.get("subunits") or {}).items():
            subunits[fold(word)] = _positive(path, f"{code}.subunits.{word}", fraction)
            index.add(path, f"{code}.subunits", word, Entry("currency", value, None))
    return subunits


def _load_commands(index: _Index, path: Path) -> tuple[dict[str, str], dict[str, str]]:
    takes: dict[str, str] = {}
    names: dict[str, str] = {}
    for command, spec in _yaml(path).items():
        if not isinstance(spec, dict) or spec.get("takes") not in _TAKES:
            raise _fail(path, str(command), f"expected takes: one of {_TAKES}")
        takes[command] = spec["takes"]
        index.lists(path, f"{command}.words", "command", command, spec.get("words"))
        if spec["takes"] == "language":
            languages = _wordlists(path, f"{command}.languages", spec.get("languages"))
            names.update({fold(w): code for code, words in languages.items() for w in words})
    return takes, names


def _load_numbers(index: _Index, path: Path) -> None:
    numbers = _yaml(path)
    scales = numbers.get("scales")
    if set(numbers) != {"words", "scales"} or not isinstance(scales, dict):
        raise _fail(path, "words/scales", "expected exactly these two keys")
    tables = {"number": numbers["words"], "scale_before": scales.get("before")}
    tables["scale_after"] = scales.get("after")
    for role, table in tables.items():
        if not isinstance(table, dict):
            raise _fail(path, role, "expected a mapping of numbers to words")
        for value, languages in table.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _fail(path, f"{role}.{value}", "expected a whole number")
            index.lists(path, f"{role}.{value}", role, str(value), languages)


def _load_phrases(index: _Index, path: Path) -> None:
    for role, languages in _yaml(path).items():
        if role not in _ROLES:
            raise _fail(path, str(role), f"unknown role, expected one of {_ROLES}")
        index.lists(path, str(role), str(role), None, languages)


@cache
def load_vocabularies(directory: Path = VOCABULARIES) -> Vocabulary:
    """Read and check ``produce``, ``units``, ``currencies``, ``commands``,
    ``numbers`` and ``phrases`` (``.yaml``) in ``directory``, once. Raises
    ``ValueError`` naming the file and key of the first mistake: a wrong shape, an
    unknown language, a word given two meanings, a weight for an unknown produce."""
    index = _Index()
    produce = _load_produce(index, directory / "produce.yaml")
    weights = _load_units(index, directory / "units.yaml", produce)
    subunits = _load_currencies(index, directory / "currencies.yaml")
    takes, language_names = _load_commands(index, directory / "commands.yaml")
    _load_numbers(index, directory / "numbers.yaml")
    _load_phrases(index, directory / "phrases.yaml")
    fuzzy: dict[str, set[str]] = {}
    for key, entries in index.words.items():
        for entry in entries:
            if entry.role == "produce" and len(key) == 1 and len(key[0]) >= 5:
                for variant in _deletions(key[0]):
                    fuzzy.setdefault(variant, set()).add(str(entry.value))
    return Vocabulary(
        words={k: tuple(v) for k, v in index.words.items()},
        cjk={k: tuple(v) for k, v in index.cjk.items()},
        longest=max(len(k) for k in index.words),
        starts=frozenset(k[0] for k in index.words if len(k) > 1),
        cjk_longest=max(len(k) for k in index.cjk),
        fuzzy={k: frozenset(v) for k, v in fuzzy.items()},
        weights=weights,
        names=index.names,
        subunits=subunits,
        language_names=language_names,
        takes=takes,
        produce=produce,
    )


def unit_kg(unit: str, produce: str | None = None) -> Decimal | None:
    """Kilograms in one ``unit`` of ``produce`` (a bag of potatoes is 50, of maize
    90), or None for units with no weight (crate, tray, litre, piece). Bag and
    debe weights are trade conventions (see units.yaml). Raises ``KeyError`` for
    an unknown unit."""
    kg, _, per = load_vocabularies().weights[unit]
    result: Decimal | None = per.get(produce or "", kg)
    return result


def produce_name(produce: str, language: str) -> str:
    """How ``language`` names a canonical produce (its first word in produce.yaml:
    maize → "mahindi", "maïs", "玉米"); the canonical name when it has none."""
    return load_vocabularies().names.get((produce, language), produce)


def all_produce() -> tuple[str, ...]:
    """Every canonical produce, in ``produce.yaml``'s order (commonest first)."""
    return load_vocabularies().produce


def is_produce(name: object) -> bool:
    """Whether ``name`` is a canonical produce of ``produce.yaml``."""
    return isinstance(name, str) and name in load_vocabularies().produce


def units() -> tuple[str, ...]:
    """Every canonical unit, in ``units.yaml``'s order."""
    return tuple(load_vocabularies().weights)


def unit_name(unit: str, language: str) -> str:
    """How ``language`` names a canonical unit (bag → "gunia", "sac", "袋")."""
    return load_vocabularies().names.get((unit, language), unit)


def _deletions(word: str) -> set[str]:
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}

"""Produce offers texted in people's own words, in English, Kiswahili, French and Chinese.

``parse(text)`` reads one SMS and returns what it is: an ``Offer`` ("SELL maize
50kg 30", "uza mahindi gunia 5 bei 3000", "vends maïs 2 sacs 4500 fcfa",
"卖玉米100斤每斤1.5元"), a ``Command`` (STOP/START/HELP by ``domain.keywords``,
JOBS, LANG, CANCEL, SOLD, ALERT), an ``Unclear`` offer whose amounts must be asked
about rather than guessed, or ``Unparseable`` (greetings, questions, letters,
emoji, injection attempts). The words live in ``vocabularies/*.yaml``; this
module holds only the grammar: a tokenizer, then one left-to-right pass that
reads each number as a quantity or a price from the words around it.

Labelling rules it follows (``tests/fixtures/sms/produce-offers.jsonl``): a bare
price is per unit; a currency comes only from a currency word, never from the
place; "/=" alone names no currency; a count with no unit is pieces. A price per
another unit converts the quantity when both are exact (2 tonnes at 45 per kg is
2000 kg; tonne, kg and jin are defined); bags, debes and crates are not, so "10
bags at 40 per kg" is asked about. ``evaluate(rows)`` scores the parser on such a
corpus (``python -m bench.offers``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from domain import keywords

LANGUAGES = ("en", "sw", "fr", "zh")
VOCABULARIES = Path(__file__).resolve().parent.parent / "vocabularies"

#: Limits past which an amount is a typo or a joke, not an offer: no smallholder
#: sells a million units at once, and 100 million (KES, TZS, UGX, XOF or CNY) is
#: far above any one lot of produce. Such texts are asked about (``too_large``).
MAX_QUANTITY = Decimal(1_000_000)
MAX_PRICE = Decimal(100_000_000)
#: More words than this is a letter, not an offer (the longest offers in the
#: corpus have about 20, a single SMS holds about 30 words).
MAX_WORDS = 30

# ---------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Offer:
    """An offer to sell. ``quantity`` is in ``unit`` (a canonical unit of
    ``vocabularies/units.yaml``); at most one of ``unit_price`` (per ``unit``) and
    ``total_price`` is set, neither only when the text says the price is
    negotiable. ``currency`` is ISO 4217 when a currency word was written."""

    produce: str
    quantity: Decimal
    unit: str
    unit_price: Decimal | None
    total_price: Decimal | None
    currency: str | None
    location: str | None
    language: str


@dataclass(frozen=True, slots=True)
class Command:
    """HELP, STOP, START, JOBS, LANG (``arg`` a language code), CANCEL and SOLD
    (``arg`` the offer number, digits) or ALERT (``arg`` a canonical produce);
    ``arg`` is None when absent or not understood."""

    command: str
    arg: str | None
    language: str


@dataclass(frozen=True, slots=True)
class Unclear:
    """Looks like an offer but an amount is missing, ambiguous or impossible.
    ``problem``: negative_quantity, negative_price, ambiguous_number,
    unknown_produce, no_quantity, zero_quantity, too_large,
    conflicting_quantities, unit_mismatch, conflicting_prices, zero_price or
    no_price. ``understood`` holds what was read (produce, quantity, unit,
    unit_price, total_price, currency, location; ``number``: the ambiguous one
    as written), for the reply to repeat."""

    problem: str
    understood: dict[str, object]
    language: str


@dataclass(frozen=True, slots=True)
class Unparseable:
    """Not an offer nor a command; ``language`` is the best guess for the reply."""

    language: str


Parsed = Offer | Command | Unclear | Unparseable

# -------------------------------------------------------------------- vocabularies


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


def _load_produce(index: _Index, path: Path) -> set[str]:
    produce = _yaml(path)
    for name, languages in produce.items():
        index.lists(path, str(name), "produce", str(name), languages)
        index.add(path, str(name), str(name), Entry("produce", str(name), None))
    return set(produce)


def _load_units(index: _Index, path: Path, produce: set[str]) -> dict[str, Any]:
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


def unit_name(unit: str, language: str) -> str:
    """How ``language`` names a canonical unit (bag → "gunia", "sac", "袋")."""
    return load_vocabularies().names.get((unit, language), unit)


def _deletions(word: str) -> set[str]:
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


# ----------------------------------------------------------------------- tokenizer

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_ONLY = re.compile(f"[{_CJK}]+")
_LATIN = "A-Za-zÀ-ÖØ-öø-ɏœŒ"
_TOKEN = re.compile(
    rf"(?P<num>(?:(?<![{_LATIN}\d/=])[-−])?\d(?:[\d,.]*\d)?(?:[Oo]+(?![{_LATIN}]))?)"
    rf"(?P<mult>[kK](?![{_LATIN}])|万|千(?!克))?"
    rf"|(?P<cjk>[{_CJK}]+)"
    rf"|(?P<word>[{_LATIN}]+(?:['’\-][{_LATIN}]+)*['’]?)"
    r"|(?P<sym>/=|/-|[@/?$€¥₦#:;,.!()<>=+*&'\"-])"
)
_ELISION = re.compile(r"^(qu|[cdjlmnst])['’](?=.)", re.IGNORECASE)
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?:\.\d{3}){2,}")
_SPACED = re.compile(r"\d \d{3}")
_THREE_DECIMALS = re.compile(r"\d+\.\d{3}")
_CJK_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CJK_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CJK_POWERS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_FULLWIDTH = str.maketrans({"，": " ", "、": " ", "。": " ", "；": " ", "！": " "})
_INJECTION = re.compile(
    r"--|<\s*script|'\s*(?:;|or\b)|\b(?:drop|delete|truncate)\s+(?:table|from)\b"
    r"|\bunion\s+select\b|\binsert\s+into\b|\bor\s+1\s*=\s*1\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Lower case, no accents, full-width forms as ASCII: how words are matched."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def _split(text: str) -> Iterable[tuple[str, str, re.Match[str]]]:
    """(kind, text, match) for each token; French elisions split ("l'unité")."""
    for m in _TOKEN.finditer(text):
        kind = "num" if m.group("num") else str(m.lastgroup)
        raw = m.group(kind)
        if kind == "word" and (e := _ELISION.match(raw)):
            yield "word", raw[: e.end()], m
            yield "word", raw[e.end() :], m
        else:
            yield kind, raw, m


class _Token:
    __slots__ = ("kind", "raw", "low", "start", "end", "roles", "langs", "value", "flag", "used")

    def __init__(self, kind: str, raw: str, start: int, end: int) -> None:
        self.kind = kind  # num, phone, word, cjk, sym
        self.raw = raw
        self.low = fold(raw) if kind == "word" else raw
        self.start, self.end = start, end
        self.roles: dict[str, str | None] = {}
        self.langs: set[str] = set()
        self.value = Decimal(0)
        self.flag = ""  # num: "", "ambiguous", "negative" or "one" (Chinese 一)
        self.used = False

    def tag(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.roles.setdefault(entry.role, entry.value)
            if entry.language:
                self.langs.add(entry.language)


def _amount(raw: str) -> tuple[Decimal, str]:
    """The value of a written number, and "ambiguous" when a comma or a point
    could be either thousands or decimals ("30,5", "2.500"); "1,000" and
    "1.000.000" are thousands, "1.5" is a decimal."""
    digits = raw.lstrip("-−").replace("O", "0").replace("o", "0")
    if "," not in digits and digits.count(".") <= 1 and not _THREE_DECIMALS.fullmatch(digits):
        return Decimal(digits), ""
    if _THOUSANDS.fullmatch(digits):
        return Decimal(digits.replace(",", "") if "," in digits else digits.replace(".", "")), ""
    head = digits.replace(",", ".").split(".")
    return Decimal(f"{head[0]}.{head[1]}"), "ambiguous"


def _cjk_number(text: str) -> Decimal:
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in _CJK_DIGITS:
            digit = _CJK_DIGITS[ch]
        elif ch == "万":
            total += (section + digit) * 10000
            section, digit = 0, 0
        else:
            section += (digit or 1) * _CJK_POWERS[ch]
            digit = 0
    return Decimal(total + section + digit)


def _cjk_word(run: str, i: int, start: int, vocab: Vocabulary) -> _Token | None:
    """The longest vocabulary word at ``run[i]``, or None."""
    for size in range(min(vocab.cjk_longest, len(run) - i), 0, -1):
        entries = vocab.cjk.get(run[i : i + size])
        if entries:
            token = _Token("cjk", run[i : i + size], start + i, start + i + size)
            token.tag(entries)
            return token
    return None


#: Words no Chinese place name contains: where a name after 在 or 地点 ends.
_NAME_ENDS = frozenset({"sell", "buy", "contact", "price", "question", "total", "per"})


def _segment(run: str, start: int, vocab: Vocabulary) -> list[_Token]:
    """Chinese by longest match against the vocabularies; numerals become
    numbers; unknown characters next to each other make one token (a name),
    and so does everything after 在 up to a word no name contains (在元谋)."""
    out: list[_Token] = []
    i = 0
    while i < len(run):
        token = _cjk_word(run, i, start, vocab)
        if token is None:
            j = i
            while j < len(run) and (run[j] in _CJK_DIGITS or run[j] in _CJK_POWERS):
                j += 1
            if j > i:
                token = _Token("num", run[i:j], start + i, start + j)
                token.value = _cjk_number(run[i:j])
                token.flag = "one" if run[i:j] == "一" else ""
            elif out and out[-1].kind == "cjk" and not out[-1].roles:
                out[-1].raw = out[-1].low = out[-1].raw + run[i]
                out[-1].end += 1
                i += 1
                continue
            else:
                token = _Token("cjk", run[i], start + i, start + i + 1)
        elif "place" in token.roles:
            j = end = token.end - start
            while end < len(run):
                word = _cjk_word(run, end, start, vocab)
                if word is not None and _NAME_ENDS.intersection(word.roles):
                    break
                end += 1
            if end > j:
                out.append(token)
                token = _Token("cjk", run[j:end], start + j, start + end)
        out.append(token)
        i = token.end - start
    return out


def _tokens(text: str, vocab: Vocabulary) -> list[_Token]:
    """Tokens of ``text`` (already NFKC), phrases merged and tagged."""
    raw: list[_Token] = []
    for kind, piece, m in _split(text):
        if kind == "cjk":
            raw += _segment(piece, m.start(), vocab)
            continue
        token = _Token(kind, piece, m.start(), m.end())
        if kind == "num":
            token.value, token.flag = _amount(piece)
            digits = piece.lstrip("-−")
            if piece != digits:
                token.flag, token.value = token.flag or "negative", -token.value
            if m.group("mult"):
                token.value *= 10000 if m.group("mult") == "万" else 1000
            plus = m.start() > 0 and text[m.start() - 1] == "+"
            if digits.isdigit() and (
                len(digits) >= 10 or plus or (len(digits) >= 9 and digits[0] == "0")
            ):
                token.kind = "phone"
        raw.append(token)
    _merge_spaced_thousands(raw, text, vocab)
    return _tag(raw, vocab)


def _merge_spaced_thousands(tokens: list[_Token], text: str, vocab: Vocabulary) -> None:
    """French writes 150 000 fcfa: join digit groups a single space apart when a
    group is 000 or the amount is followed by a franc word (not "15 800")."""
    if not _SPACED.search(text):
        return
    i = 0
    while i < len(tokens) - 1:
        head, j = tokens[i], i + 1
        while (
            j < len(tokens)
            and tokens[j].kind == "num"
            and re.fullmatch(r"\d{3}", tokens[j].raw)
            and text[tokens[j - 1].end : tokens[j].start] == " "
        ):
            j += 1
        groups = tokens[i + 1 : j]
        after = tokens[j].low if j < len(tokens) else ""
        franc = any(e.value == "XOF" for e in vocab.words.get((after,), ()))
        if head.kind == "num" and re.fullmatch(r"\d{1,3}", head.raw) and groups:
            plain = all(t.value == Decimal(t.raw) for t in (head, *groups))  # no k, no 万
            if plain and (franc or any(g.raw == "000" for g in groups)):
                head.value = Decimal("".join(t.raw for t in (head, *groups)))
                head.raw = text[head.start : groups[-1].end]
                head.end = groups[-1].end
                del tokens[i + 1 : j]
        i += 1


def _tag(tokens: list[_Token], vocab: Vocabulary) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind in ("word", "sym"):
            longest = vocab.longest if token.low in vocab.starts else 1
            for size in range(min(longest, len(tokens) - i), 0, -1):
                span = tokens[i : i + size]
                if any(t.kind not in ("word", "sym") for t in span):
                    continue
                entries = vocab.words.get(tuple(t.low for t in span))
                if entries:
                    if size > 1:
                        token = _Token(
                            "word", " ".join(t.raw for t in span), span[0].start, span[-1].end
                        )
                    token.tag(entries)
                    if "number" in token.roles:  # "gunia tatu", "deux sacs"
                        token.kind, token.value = "num", Decimal(str(token.roles.pop("number")))
                        token.flag = "word"
                    i += size - 1
                    break
        out.append(token)
        i += 1
    return _scale(out)


def _scale(tokens: list[_Token]) -> list[_Token]:
    """Apply scale words: "elfu 3" → 3000, "laki moja" → 100000, "3 thousand",
    "elfu tatu mia tano" → 3500 (a scaled number followed by a smaller one adds)."""
    out: list[_Token] = []
    for token in tokens:
        last = out[-1] if out else None
        if last is not None and token.kind == "num" and "scale_before" in last.roles:
            token.value *= Decimal(str(last.roles["scale_before"]))
            token.start, token.flag = last.start, "scaled"
            out.pop()
            last = out[-1] if out else None
            if last is not None and last.flag == "scaled" and last.value > token.value:
                last.value += token.value
                continue
        elif last is not None and last.kind == "num" and "scale_after" in token.roles:
            last.value *= Decimal(str(token.roles["scale_after"]))
            continue
        out.append(token)
    return out


# ------------------------------------------------------------------------- grammar


def _language(tokens: list[_Token]) -> str:
    """The language most words belong to; "zh" for any Chinese; "en" when unsure."""
    counts = dict.fromkeys(LANGUAGES, 0)
    for token in tokens:
        if token.kind == "cjk":
            return "zh"
        for language in token.langs:
            counts[language] += 1
    best = max(counts.values())
    return "en" if best == 0 or counts["en"] == best else max(counts, key=counts.__getitem__)


def _command(tokens: list[_Token], vocab: Vocabulary) -> Command | None:
    words = [t for t in tokens if t.kind != "sym"]
    if not words or "command" not in words[0].roles or len(words) > 4:
        return None
    name = str(words[0].roles["command"])
    language = next(iter(sorted(words[0].langs)), "en")
    takes, rest = vocab.takes[name], words[1:]
    arg: str | None = None
    if takes == "number":
        arg = next((str(int(t.value)) for t in rest if t.kind == "num" and not t.flag), None)
    elif takes == "language" and rest:
        arg = vocab.language_names.get(rest[0].low)
    elif takes == "produce":
        arg = next((_produce(t, vocab) for t in rest if _produce(t, vocab)), None)
    return Command(name, arg, language)


def _produce(token: _Token, vocab: Vocabulary) -> str | None:
    """The produce a token names, allowing one wrong letter in long words."""
    if "produce" in token.roles:
        return token.roles["produce"]
    word = token.low
    if token.kind != "word" or token.roles or len(word) < 5:
        return None
    found = {p for d in _deletions(word) for p in vocab.fuzzy.get(d, ())}
    found = {p for p in found if fold(p)[0] == word[0]}
    return found.pop() if len(found) == 1 else None


@dataclass
class _Price:
    value: Decimal
    total: bool = False
    per: str | None = None  # the unit it is per, when written


@dataclass
class _Reading:
    produce: str | None = None
    quantity: Decimal | None = None
    unit: str | None = None
    prices: list[_Price] = field(default_factory=list)
    currency: str | None = None
    location: str | None = None
    negotiable: bool = False
    problems: list[tuple[str, str]] = field(default_factory=list)  # (problem, as written)
    extra_quantity: bool = False


def _is_unit(token: _Token) -> bool:
    return "unit" in token.roles and not token.used


def _per_unit(tokens: list[_Token], k: int) -> str | None:
    """The unit of "per kg", "kwa gunia", "le sac", "每斤", "一斤" at ``k``, if any."""
    if k + 1 < len(tokens) and _is_unit(tokens[k + 1]):
        if "per" in tokens[k].roles or tokens[k].flag == "one":
            return tokens[k + 1].roles["unit"]
    return None


def _is_money(tokens: list[_Token], k: int) -> bool:
    """A currency word, "/=", or "f"/"fr" right after an amount."""
    roles = tokens[k].roles
    return "currency" in roles or (
        "currency_after" in roles and k > 0 and tokens[k - 1].kind == "num"
    )


def _money(tokens: list[_Token], k: int, reading: _Reading) -> Decimal:
    """Note the currency at ``k``; the factor of a subunit (毛 is 0.1 yuan) or 1."""
    token = tokens[k]
    code = token.roles.get("currency", token.roles.get("currency_after"))
    reading.currency = reading.currency or code
    return load_vocabularies().subunits.get(token.low, Decimal(1))


def _next_is_num(tokens: list[_Token], k: int) -> bool:
    return k + 1 < len(tokens) and tokens[k + 1].kind == "num"


def _priced_after(tokens: list[_Token], k: int) -> bool:
    if k >= len(tokens):
        return False
    roles = tokens[k].roles
    if ("each" in roles or "total" in roles) and k + 1 < len(tokens):
        return tokens[k + 1].kind != "num"  # "15 kila mmoja 800": 800 is the price
    return _is_money(tokens, k) or "each" in roles or "total" in roles or bool(_per_unit(tokens, k))


def _add_quantity(reading: _Reading, token: _Token, unit: str | None) -> None:
    if token.flag in ("ambiguous", "negative"):
        reading.problems.append(
            ("ambiguous_number" if token.flag == "ambiguous" else "negative_quantity", token.raw)
        )
    if reading.quantity is None:
        reading.quantity, reading.unit = token.value, unit
        return
    weights = load_vocabularies().weights
    # "10 sacs de 100kg", "gunia 10 ya kilo 90": the size of each container.
    sized = reading.unit and not weights[reading.unit][1] and unit and weights[unit][1]
    reading.extra_quantity = reading.extra_quantity or not sized


def _price_before(tokens: list[_Token], j: int, value: Decimal, *, money: bool) -> _Price | None:
    """A price when the words before an amount (ending at ``j``) say so: "@",
    "bei", "total", "每斤", "kila mmoja", a currency ("ksh30"), or a price word
    then the unit it is per ("bei ya kreti 3000", "prix du sac 15000")."""
    if j < 0:
        return _Price(value) if money else None
    roles = tokens[j].roles
    if "total" in roles:
        return _Price(value, total=True)
    if money or "price" in roles or "at" in roles or "each" in roles:
        return _Price(value)
    per = _per_unit(tokens, j - 1) if j > 0 and not tokens[j].used else None
    if per:
        tokens[j].used = True  # 每斤1.3元, per kg 80
        return _Price(value, per=per)
    if _is_unit(tokens[j]):
        k = j - 1
        while k >= 0 and "filler" in tokens[k].roles:
            k -= 1
        if k >= 0 and "price" in tokens[k].roles and "unit" not in tokens[k].roles:
            tokens[j].used = True
            return _Price(value, per=tokens[j].roles["unit"])
    return None


def _number(tokens: list[_Token], i: int, reading: _Reading) -> int:
    """Read the number at ``i`` as a quantity or a price; the index after it."""
    token, n = tokens[i], len(tokens)
    token.used = True
    j = i - 1
    while j >= 0 and _is_money(tokens, j):
        j -= 1
    before = tokens[j] if j >= 0 else None
    money = j < i - 1 and (j < 0 or tokens[j].kind != "num")  # "2 ksh 30": ksh is 2's
    price = _price_before(tokens, j, token.value, money=money)
    if price is None:
        if token.flag == "one" and _per_unit(tokens, i) and _next_is_num(tokens, i + 1):
            return i + 1  # 一斤1.3元: the price's unit, read with the price
        if i + 1 < n and _is_unit(tokens[i + 1]):
            tokens[i + 1].used = True
            _add_quantity(reading, token, tokens[i + 1].roles["unit"])
            return i + 2
        if before is not None and j == i - 1 and _is_unit(before) and not _per_unit(tokens, j - 1):
            before.used = True  # "gunia 10", "kilo 200": the Kiswahili order
            _add_quantity(reading, token, before.roles["unit"])
            return i + 1
        if not _priced_after(tokens, i + 1) and reading.quantity is None:
            _add_quantity(reading, token, None)
            return i + 1
        price = _Price(token.value)
    k = i + 1
    while k < n:
        after = tokens[k]
        if _is_money(tokens, k):
            price.value *= _money(tokens, k, reading)
            k += 1
            if after.raw == "块" and k < n and re.fullmatch(r"\d", tokens[k].raw):
                price.value += tokens[k].value / 10  # 1块2: 1.2 yuan
                tokens[k].used = True
                k += 1
            continue
        if _is_unit(after) and all(_is_money(tokens, m) for m in range(i + 1, k)):
            price.per = after.roles["unit"]  # "50f pièce", "3500 fcfa pièce"
            after.used = True
            k += 1
        elif per := _per_unit(tokens, k):
            price.per = per
            tokens[k + 1].used = True
            k += 2
        elif price.per and after.kind == "num" and after.flag == "word" and after.value == 1:
            k += 1  # "bei 3000 kreti moja": per one crate
        elif ("each" in after.roles or "total" in after.roles) and not _next_is_num(tokens, k):
            price.total = price.total or "total" in after.roles
            k += 1
        else:
            break
    if token.flag in ("ambiguous", "negative"):
        reading.problems.append(
            ("ambiguous_number" if token.flag == "ambiguous" else "negative_price", token.raw)
        )
    reading.prices.append(price)
    return k


def _name_at(tokens: list[_Token], k: int) -> int | None:
    """Index of the place name starting at or after ``k`` (past a colon), or None."""
    while k < len(tokens) and tokens[k].raw == ":":
        k += 1
    if k < len(tokens) and tokens[k].kind in ("word", "cjk") and not tokens[k].roles:
        return k
    return None


def _name(tokens: list[_Token], k: int) -> tuple[str, int]:
    """A place name from ``k``: one word, then words that start with a capital."""
    parts = [tokens[k]]
    k += 1
    while (
        parts[0].kind == "word"
        and k < len(tokens)
        and tokens[k].kind == "word"
        and not tokens[k].roles
        and tokens[k].raw[0].isupper()
    ):
        parts.append(tokens[k])
        k += 1
    for part in parts:
        part.used = True
    return " ".join(p.raw for p in parts), k


def _read(tokens: list[_Token], vocab: Vocabulary) -> _Reading:
    """One pass over the tokens: numbers, produce, currency, place."""
    reading = _Reading()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        roles = token.roles
        if "contact" in roles:
            break
        if token.kind == "num":
            i = _number(tokens, i, reading)
            continue
        start = _name_at(tokens, i + 1) if ("place" in roles or "at" in roles) else None
        if token.used:
            pass
        elif "negotiable" in roles:
            reading.negotiable = True
        elif start is not None and reading.location is None:
            reading.location, i = _name(tokens, start)
            continue
        elif _is_money(tokens, i):
            _money(tokens, i, reading)
        elif reading.produce is None and (produce := _produce(token, vocab)):
            reading.produce = produce
            token.used = True
        i += 1
    if reading.location is None:
        reading.location = _unmarked_place(tokens)
    return reading


def _unmarked_place(tokens: list[_Token]) -> str | None:
    """A place written without "at"/"iko"/"在": capitalised unknown words that end
    the text after the offer ("... @3200 Eldoret"), or Chinese characters before
    the sell word at its start ("曲靖卖玉米")."""
    if len(tokens) > 1 and tokens[0].kind == "cjk" and not tokens[0].roles:
        if "sell" in tokens[1].roles:
            return tokens[0].raw
    end = len(tokens)
    while end and tokens[end - 1].kind == "sym" and tokens[end - 1].raw in ".!":
        end -= 1
    start = end
    while (
        start > 0
        and tokens[start - 1].kind == "word"
        and not tokens[start - 1].roles
        and not tokens[start - 1].used
        and tokens[start - 1].raw[0].isupper()
    ):
        start -= 1
    if start in (0, end) or end - start > 3:
        return None
    return " ".join(t.raw for t in tokens[start:end])


def _tidy(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _judge(reading: _Reading, language: str) -> Offer | Unclear:
    """The offer read, or what is wrong with it (the first problem found)."""
    units = [p for p in reading.prices if not p.total]
    totals = [p for p in reading.prices if p.total]
    understood: dict[str, object] = {
        k: v
        for k, v in (
            ("produce", reading.produce),
            ("quantity", reading.quantity),
            ("unit", reading.unit),
            ("unit_price", units[0].value if units else None),
            ("total_price", totals[0].value if totals else None),
            ("currency", reading.currency),
            ("location", reading.location),
        )
        if v is not None
    }

    def unclear(problem: str) -> Unclear:
        return Unclear(problem, understood, language)

    problems = dict(reversed(reading.problems))
    for problem in ("ambiguous_number", "negative_quantity", "negative_price"):
        if problem in problems:
            understood["number"] = problems[problem]
            return unclear(problem)
    if reading.produce is None:
        return unclear("unknown_produce")
    if reading.quantity is None:
        return unclear("no_quantity")
    quantity, unit = reading.quantity, reading.unit
    if quantity == 0:
        return unclear("zero_quantity")
    if quantity > MAX_QUANTITY or any(p.value > MAX_PRICE for p in reading.prices):
        return unclear("too_large")
    if reading.extra_quantity:
        return unclear("conflicting_quantities")
    pers = {p.per for p in units if p.per}
    if len(pers) > 1:
        return unclear("unit_mismatch")
    if pers:
        per = pers.pop()
        if unit is None:
            unit = per
        elif unit != per:
            weights = load_vocabularies().weights
            (have, exact, _), (want, exact_too, _) = weights[unit], weights[per]
            if not (exact and exact_too and have and want):
                return unclear("unit_mismatch")
            quantity, unit = quantity * have / want, per  # 2 tonnes at 45 per kg: 2000 kg
    unit = unit or "piece"
    if len({p.value for p in units}) > 1 or len({p.value for p in totals}) > 1:
        return unclear("conflicting_prices")
    unit_price = units[0].value if units else None
    total_price = totals[0].value if totals else None
    if unit_price is not None and total_price is not None:
        if unit_price * quantity != total_price:
            return unclear("conflicting_prices")
        total_price = None
    if unit_price == 0 or total_price == 0:
        return unclear("zero_price")
    if unit_price is None and total_price is None and not reading.negotiable:
        return unclear("no_price")
    return Offer(
        produce=reading.produce,
        quantity=_tidy(quantity),
        unit=unit,
        unit_price=None if unit_price is None else _tidy(unit_price),
        total_price=None if total_price is None else _tidy(total_price),
        currency=reading.currency,
        location=reading.location,
        language=language,
    )


def _offer(tokens: list[_Token], language: str, vocab: Vocabulary) -> Offer | Unclear | Unparseable:
    sells = any("sell" in t.roles for t in tokens)
    numbers = any(t.kind == "num" for t in tokens)
    if not sells and any("buy" in t.roles for t in tokens):
        return Unparseable(language)
    if not sells and not (numbers and any(_produce(t, vocab) for t in tokens)):
        return Unparseable(language)
    asks = any("question" in t.roles or t.raw == "?" for t in tokens)
    if asks and not (sells and numbers):
        return Unparseable(language)
    return _judge(_read(tokens, vocab), language)


def parse(text: str) -> Parsed:
    """What one SMS says: ``Offer``, ``Command``, ``Unclear`` or ``Unparseable``.

    Never raises for any text; reads the vocabularies on first use (a broken
    vocabulary file raises ``ValueError`` then).
    """
    vocab = load_vocabularies()
    normal = unicodedata.normalize("NFKC", text.translate(_FULLWIDTH)).strip()
    tokens = _tokens(normal, vocab)
    language = _language(tokens)
    if not tokens or _INJECTION.search(normal):
        return Unparseable(language)
    keyword = keywords.match(normal)
    if keyword is not None:
        return Command(keyword.name.upper(), None, keyword.language)
    command = _command(tokens, vocab)
    if command is not None:
        return command
    if sum(t.kind != "sym" for t in tokens) > MAX_WORDS:
        return Unparseable(language)
    return _offer(tokens, language, vocab)


# ---------------------------------------------------------------------- evaluation

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

"""The tokenizer: ``fold`` for matching words; Latin script split into words,
numbers and symbols (French elisions apart), Chinese by longest match against
the vocabularies; numbers as written ("2.500" ambiguous, "5k", 万, Chinese
numerals, "150 000", number and scale words); each token tagged with the
vocabulary entries its words match."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from domain.offer_parser.vocabulary import Entry, Vocabulary

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

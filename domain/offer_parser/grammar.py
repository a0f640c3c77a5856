"""The grammar: one left-to-right pass over the tokens reads each number as a
quantity or a price from the words around it, with the produce, currency and
place (``_read``); ``_judge`` turns that reading into an ``Offer`` or says what
is ``Unclear``; ``parse`` tells commands, offers and the rest apart."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from domain import keywords
from domain.offer_parser.results import Command, Offer, Parsed, Unclear, Unparseable
from domain.offer_parser.tokens import _FULLWIDTH, _INJECTION, _Token, _tokens, fold
from domain.offer_parser.vocabulary import LANGUAGES, Vocabulary, _deletions, load_vocabularies

#: Limits past which an amount is a typo or a joke, not an offer: no smallholder
#: sells a million units at once, and 100 million (KES, TZS, UGX, XOF or CNY) is
#: far above any one lot of produce. Such texts are asked about (``too_large``).
MAX_QUANTITY = Decimal(1_000_000)
MAX_PRICE = Decimal(100_000_000)
#: More words than this is a letter, not an offer (the longest offers in the
#: corpus have about 20, a single SMS holds about 30 words).
MAX_WORDS = 30


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
        # An offer number is one whole number as written: "12.9", "2k", "18kg",
        # "16e3" or two numbers ("SOLD 17 18") name none, rather than a part of one.
        numbers = [t for t in rest if t.kind in ("num", "phone")]
        units = any("unit" in t.roles for t in rest)
        if len(numbers) == 1 and not units:
            [t] = numbers
            if t.kind == "num" and not t.flag and t.raw.isdigit() and t.value == int(t.raw):
                arg = str(int(t.value))
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

"""Properties of the text functions behind the SMS edge (issue 7): the produce
offer parser, the SMS segment counter (checked against a reference written
here from 3GPP TS 23.038 and 23.040) and the campaign template renderer, for
any text: any Unicode, control characters, empty, very long."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from domain.offer_parser import (
    LANGUAGES,
    MAX_PRICE,
    MAX_QUANTITY,
    Command,
    Offer,
    Unclear,
    Unparseable,
    is_produce,
    load_vocabularies,
    parse,
    units,
)
from domain.sms_encoding import (
    GSM7,
    UCS2,
    analyse,
    fits,
    gsm7_lookalike,
    measure,
    parts,
    text_length,
)
from domain.sms_templates import RECIPIENT_FIELDS, TemplateError, placeholders, render
from menus.screen import size

# ---------------------------------------------------------------- offer parser

SELL = ["SELL", "sell", "Uza", "nauza", "vends", "卖", "", "selling"]
PRODUCE = ["maize", "MAIZE", "mahindi", "maïs", "玉米", "beans", "maharagwe", "tomatoes", "maise"]
UNITS = ["kg", "KG", "gunia", "bags", "sacs", "斤", "crates", "tonnes", "tonne", "debe", ""]
PRICE = ["at", "bei", "à", "每斤", "per kg", "per tonne", "@", "total", "jumla", "", "each"]
CURRENCY = ["KES", "ksh", "fcfa", "元", "/=", "TSh", "", "$", "UGX"]
PLACES = ["at Ahero", "Kisumu", "kwa Bondo", "在元谋", "", "à Thiès"]
NUMBERS = st.one_of(
    st.integers(-10, 10**13).map(str),
    st.decimals(-1000, 10**10, places=3, allow_nan=False).map(str),
    st.sampled_from(["2.500", "30,5", "1,000", "150 000", "5k", "0", "00", "1e9", "²", "①", "5OO"]),
    st.sampled_from(["elfu tatu", "mille", "三万", "一", "tatu", "deux", "laki moja", "999 999"]),
)
offer_text = st.tuples(
    st.sampled_from(SELL),
    st.sampled_from(PRODUCE),
    NUMBERS,
    st.sampled_from(UNITS),
    st.sampled_from(PRICE),
    NUMBERS,
    st.sampled_from(CURRENCY),
    st.sampled_from(PLACES),
    st.lists(st.one_of(st.sampled_from(PRODUCE + UNITS + PRICE), NUMBERS), max_size=4),
).map(lambda t: " ".join([*t[:8], *t[8]]))
command_text = st.tuples(
    st.sampled_from(["SOLD", "CANCEL", "JOBS", "LANG", "ALERT", "SHARE", "HIDE", "STOP", "HELP"]),
    st.one_of(NUMBERS, st.sampled_from(PRODUCE + ["sw", "fr", "kiswahili", "zz", ""])),
).map(" ".join)
_EXACT = [kg for kg, exact, _per in load_vocabularies().weights.values() if exact and kg]
_MAX_RATIO = max(_EXACT) / min(_EXACT)
parser_text = st.one_of(offer_text, command_text, st.text(), st.text(max_size=2000))


@given(text=parser_text)
def test_parse_returns_one_of_its_four_results(text: str) -> None:
    """Never raises (its docstring), and each result keeps its documented shape."""
    result = parse(text)
    assert isinstance(result, Offer | Command | Unclear | Unparseable)
    assert result.language in LANGUAGES
    if isinstance(result, Offer):
        assert is_produce(result.produce)
        assert result.unit in units()
        # MAX_QUANTITY bounds the number as written; a price per another exact
        # unit converts it ("1001 tonnes at 1 per kg" is 1,001,000 kg), by at
        # most the largest ratio of two exact units' weights (tonne/jin).
        assert 0 < result.quantity <= MAX_QUANTITY * _MAX_RATIO, result
        assert result.unit_price is None or result.total_price is None
        for price in (result.unit_price, result.total_price):
            assert price is None or 0 < price <= MAX_PRICE, result
        assert result.currency is None or re.fullmatch("[A-Z]{3}", result.currency)
    if isinstance(result, Command) and result.command in ("SOLD", "CANCEL"):
        assert result.arg is None or (result.arg.isascii() and result.arg.isdigit())


@given(text=parser_text)
def test_parse_is_deterministic(text: str) -> None:
    assert parse(text) == parse(text)


@given(text=parser_text, before=st.sampled_from(["", " ", "\n", "\t ", "\u3000"]))
def test_whitespace_around_the_text_does_not_matter(text: str, before: str) -> None:
    """``parse`` reads the text stripped (NFKC makes U+3000 a space)."""
    assert parse(before + text + before[::-1]) == parse(text)


@given(text=st.one_of(offer_text, command_text))
def test_case_of_latin_words_does_not_matter(text: str) -> None:
    """Words are matched case-folded (``fold``): an offer in capitals is the same
    offer, bar the place's name, kept as written."""
    assume(text.isascii())

    def shape(result: object) -> object:
        if isinstance(result, Offer):
            return result.__class__, result.produce, result.quantity, result.unit, result.unit_price
        if isinstance(result, Unclear):
            return result.__class__, result.problem
        return result

    assert shape(parse(text.upper())) == shape(parse(text.lower()))


# ------------------------------------------------------------- segment counter

# 3GPP TS 23.038 §6.2.1: the default alphabet, in code order 0x00-0x7F, eight
# rows of sixteen. "\x1b" (0x1B) is the escape to the extension table, no
# character of its own.
_DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# §6.2.1.1: the extension table's characters (each sent as ESC + code: 2 septets).
_EXTENSION = "\f^{}\\[~]|€"
_SINGLE = {"GSM-7": 160, "UCS-2": 70}  # TS 23.040 §9.2.3.24.1: one part…
_CONCATENATED = {"GSM-7": 153, "UCS-2": 67}  # …and each part once a 6-octet UDH is added


def reference_units(text: str) -> tuple[str, list[int]]:
    """The encoding and each character's cost in that encoding's units."""
    basic = set(_DEFAULT_ALPHABET) - {"\x1b"}
    if all(ch in basic or ch in _EXTENSION for ch in text):
        return "GSM-7", [2 if ch in _EXTENSION else 1 for ch in text]
    return "UCS-2", [len(ch.encode("utf-16-le")) // 2 for ch in text]


def reference_parts(text: str) -> int:
    """Parts as a handset splits: greedily, never splitting an escape or a
    surrogate pair (a part that cannot take the next pair whole ends short)."""
    encoding, costs = reference_units(text)
    if sum(costs) <= _SINGLE[encoding]:
        return 1
    count, room = 1, _CONCATENATED[encoding]
    for cost in costs:
        if cost > room:
            count, room = count + 1, _CONCATENATED[encoding]
        room -= cost
    return count


def test_the_reference_alphabet_is_the_specs() -> None:
    assert len(_DEFAULT_ALPHABET) == 128 and len(set(_DEFAULT_ALPHABET)) == 128
    assert (_DEFAULT_ALPHABET.index("A"), _DEFAULT_ALPHABET.index("à")) == (0x41, 0x7F)
    assert reference_parts("a" * 160) == 1 and reference_parts("a" * 161) == 2
    assert reference_parts("a" * 152 + "€" + "a" * 10) == 2  # the escape moves to part 2
    assert reference_parts("中" * 70) == 1 and reference_parts("中" * 66 + "😀" + "中" * 5) == 2
    assert reference_parts("中" * 66 + "😀" + "中" * 67) == 3  # the pair is not split


gsm_char = st.sampled_from(_DEFAULT_ALPHABET.replace("\x1b", "") + _EXTENSION)
sms_text = st.one_of(
    st.text(gsm_char, max_size=800),  # all GSM-7, often long enough for several parts
    st.text(max_size=400),  # anything: control characters, emoji (surrogate pairs in UTF-16)
    st.text(st.sampled_from("a€{😀中é\n"), max_size=600),  # the boundary cases, densely
)


@given(text=sms_text)
def test_encoding_and_length_match_the_reference(text: str) -> None:
    encoding, costs = reference_units(text)
    assert text_length(text) == (encoding, sum(costs))
    assert (text_length(text).encoding == GSM7) == all(
        ch in _DEFAULT_ALPHABET.replace("\x1b", "") or ch in _EXTENSION for ch in text
    )


@given(text=sms_text)
def test_parts_match_the_reference(text: str) -> None:
    assert parts(text) == reference_parts(text)
    seg = analyse(text)
    assert (seg.encoding, seg.units, seg.parts) == (*text_length(text), parts(text))
    assert seg.per_part == (_SINGLE if seg.parts == 1 else _CONCATENATED)[seg.encoding]
    assert (seg.encoding == UCS2) == bool(seg.ucs2_characters)


@given(text=sms_text, more=sms_text)
def test_appending_never_takes_fewer_parts(text: str, more: str) -> None:
    assert parts(text + more) >= parts(text)


@given(a=sms_text, b=sms_text)
def test_measure_is_additive(a: str, b: str) -> None:
    """As its docstring says: a screen is measured piece by piece (menus.screen)."""
    (s1, u1, x1), (s2, u2, x2) = measure(a), measure(b)
    assert measure(a + b) == (s1 + s2, u1 + u2, x1 or x2)
    assert tuple(size(a + b)) == measure(a + b)


@given(text=sms_text, gsm7=st.integers(0, 200), ucs2=st.integers(0, 100))
def test_fits_agrees_with_the_length(text: str, gsm7: int, ucs2: int) -> None:
    encoding, costs = reference_units(text)
    assert fits(text, gsm7, ucs2) == (sum(costs) <= (gsm7 if encoding == "GSM-7" else ucs2))


@given(text=sms_text)
def test_lookalikes_keep_gsm7_and_never_cost_more(text: str) -> None:
    folded = gsm7_lookalike(text)
    assert gsm7_lookalike(folded) == folded
    for ch in set(text) & set(_DEFAULT_ALPHABET + _EXTENSION):
        assert folded.count(ch) >= text.count(ch)
    if text_length(folded).encoding == GSM7:
        assert parts(folded) <= parts(text) or text_length(text).encoding == GSM7


# ----------------------------------------------------------- template renderer

NAME = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True)
#: Literal text: anything, braces included (written doubled in the template).
literal = st.text(max_size=20)
#: A value: anything but an ISO date (which is rendered as a date, on purpose).
value = st.text(min_size=1, max_size=20).filter(lambda v: not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v))


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


@given(template=st.text(), variables=st.dictionaries(st.text(max_size=8), st.text(max_size=12)))
def test_any_template_renders_or_raises_template_error(
    template: str, variables: dict[str, str]
) -> None:
    try:
        names = placeholders(template)
    except TemplateError:
        with pytest.raises(TemplateError):
            render(template, "en", variables=variables, village="V", county="C")
        return
    try:
        out = render(template, "sw", variables=variables, village=None, county="")
    except TemplateError as exc:
        # Only for a placeholder with nothing to fill it.
        assert exc.placeholder is not None
        assert any(
            exc.placeholder == f"{{{n}}}" and n not in variables and n not in RECIPIENT_FIELDS
            for n in names
        )
        return
    assert "\x00" not in out or "\x00" in template + "".join(variables.values())


@given(
    pieces=st.lists(st.tuples(literal, NAME), max_size=6),
    tail=literal,
    values=st.dictionaries(NAME, value, max_size=8),
    village=value,
    county=value,
    language=st.sampled_from(["en", "sw", "fr", "zh", "xx"]),
)
def test_placeholders_are_replaced_by_their_values_exactly(
    pieces: list[tuple[str, str]],
    tail: str,
    values: dict[str, str],
    village: str,
    county: str,
    language: str,
) -> None:
    """Every placeholder becomes its value, as it is: a value that looks like a
    placeholder (``{village}``) or holds braces stays as written."""
    variables = {n: values.get(n, f"{{{n}}}!") for _lit, n in pieces} | values
    variables = {n: v for n, v in variables.items() if n not in RECIPIENT_FIELDS}
    filled = {**variables, "village": village, "county": county}
    template = "".join(_escape(lit) + "{" + n + "}" for lit, n in pieces) + _escape(tail)
    expected = "".join(lit + filled[n] for lit, n in pieces) + tail
    out = render(template, language, variables=variables, village=village, county=county)
    assert out == expected
    assert placeholders(template) == list(dict.fromkeys(n for _lit, n in pieces))


words = st.text(string.ascii_letters + "éü中,.!?", min_size=1, max_size=8)


@given(
    pieces=st.lists(
        st.tuples(st.lists(words, max_size=3).map(" ".join), st.sampled_from(["", " ", "\n"])),
        min_size=1,
        max_size=6,
    ),
    values=st.lists(st.one_of(st.just(""), words), min_size=6, max_size=6),
)
def test_empty_values_leave_no_doubled_space_nor_marker(
    pieces: list[tuple[str, str]], values: list[str]
) -> None:
    """An empty value (no village known) closes up: no doubled space, no space at
    a line's ends, and nothing of the internal gap marker left."""
    names = [f"v{i}" for i in range(len(values))]
    template = " ".join(
        f"{text}{sep}{{{names[i]}}}".strip(" ") for i, (text, sep) in enumerate(pieces)
    )
    # The template's own spaces are its business: none doubled, none at a line's ends.
    assume("  " not in template and " \n" not in template and "\n " not in template)
    variables = dict(zip(names, values, strict=True))
    out = render(template, "en", variables=variables, village=None, county=None)
    assert "\x00" not in out
    assert "  " not in out, (template, variables, out)
    for line in out.split("\n"):
        assert line == line.strip(" "), (template, variables, out)


@given(
    before=st.text(max_size=10),
    value=st.text(min_size=1, max_size=10),
    after=st.text(max_size=10),
)
def test_a_value_is_never_read_as_template_nor_as_a_gap(
    before: str, value: str, after: str
) -> None:
    """What a value holds is text: braces, a placeholder's name, control
    characters (even NUL, the renderer's own gap marker) pass through unread."""
    # (Spaces at a value's ends may close up with an empty village's gap.)
    assume(not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) and value.strip(" ") == value)
    template = _escape(before) + "{a}{village}" + _escape(after)
    out = render(template, "en", variables={"a": value}, village=None, county=None)
    assert value in out, (template, value, out)

"""Produce offers in people's own words: the labelled corpus, then each number form,
unit, currency, language, place, command and unclear case, and the vocabularies'
checks at load."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.offer_parser import (
    LANGUAGES,
    VOCABULARIES,
    Command,
    Offer,
    Unclear,
    Unparseable,
    evaluate,
    load_vocabularies,
    parse,
    produce_name,
    unit_kg,
    unit_name,
)
from tests.conftest import FIXTURES

ROWS: list[dict[str, Any]] = [
    json.loads(line)
    for line in (FIXTURES / "sms" / "produce-offers.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]
UNITS = {"kg", "bag", "crate", "litre", "piece", "tray", "tonne", "jin", "debe"}


def offer(text: str) -> Offer:
    result = parse(text)
    assert isinstance(result, Offer), (text, result)
    return result


# ------------------------------------------------------------------------ corpus


def test_corpus_exact_match_share_is_at_least_97_percent() -> None:
    accuracy = evaluate(ROWS)
    misses = [(m.id, m.text, m.got) for m in accuracy.misses]
    assert accuracy.exact_share >= 0.97, misses


def test_corpus_shape() -> None:
    """At least 320 rows, ids S001… in order, 55+ per language, 20+ unclear, and
    every label within the README's vocabulary (units, ISO currencies)."""
    assert len(ROWS) >= 320
    assert [r["id"] for r in ROWS] == [f"S{i:03d}" for i in range(1, len(ROWS) + 1)]
    languages = Counter(r["lang"] for r in ROWS)
    assert all(languages[lang] >= 55 for lang in LANGUAGES), languages
    kinds = Counter(r["expect"]["kind"] for r in ROWS)
    assert kinds["unclear"] >= 20 and kinds["unparseable"] and kinds["command"]
    assert len({r["text"] for r in ROWS}) == len(ROWS)
    for row in ROWS:
        expect = row["expect"]
        if expect["kind"] == "offer":
            assert expect["unit"] in UNITS, row
            assert expect["currency"] is None or len(expect["currency"]) == 3, row
            assert expect["unit_price"] is None or expect["total_price"] is None, row


def test_evaluate_counts_fields_and_misses() -> None:
    rows = [
        {"id": "A", "lang": "en", "text": "SELL maize 50kg 30", "expect": ROWS[0]["expect"]},
        {
            "id": "B",
            "lang": "sw",
            "text": "SELL maize 50kg 30",
            "expect": {**ROWS[0]["expect"], "unit_price": 31, "location": "Kitale"},
        },
        {"id": "C", "lang": "mixed", "text": "hello", "expect": {"kind": "command"}},
    ]
    accuracy = evaluate(rows)
    assert (accuracy.messages, accuracy.exact, accuracy.kinds, accuracy.offers) == (3, 1, 2, 2)
    assert accuracy.fields["produce"] == 2 and accuracy.fields["unit_price"] == 1
    assert accuracy.field_share("location") == 0.5
    assert accuracy.languages == (1, 2)  # B is labelled sw but written in English
    assert [m.id for m in accuracy.misses] == ["B", "C"]


# ------------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("text", "quantity", "unit_price"),
    [
        ("sell beans 1,000 kg @ 110", "1000", "110"),
        ("sell maize 10 bags 2,500 per bag", "10", "2500"),
        ("sell maize 10 bags 1,250.50 each", "10", "1250.5"),
        ("uza vitunguu gunia 5 bei 3.5k", "5", "3500"),
        ("uza vitunguu gunia 5 bei 3.5K", "5", "3500"),
        ("sell onions 5 bags 2k each", "5", "2000"),
        ("sell milk 1.5 litres @ 50", "1.5", "50"),
        ("sell maize ５０kg ３０", "50", "30"),  # full-width digits
        ("卖玉米１０００斤　每斤１．４元", "1000", "1.4"),
        ("sell maize 50kg @30", "50", "30"),
        ("sell maize 50kg 30/=", "50", "30"),
        ("sell maize 50kg 30/-", "50", "30"),
        ("sell maize 50kg ksh30", "50", "30"),
        ("sell maize 50kg 30ksh", "50", "30"),
        ("sell maize 50kg kes 30", "50", "30"),
        ("sell maize 50kg,ksh30", "50", "30"),
        ("sell maize50kg30", "50", "30"),
        ("sell chicken 1O @ 700", "10", "700"),  # letter O for zero
        ("vends riz 3 tonnes 150 000 fcfa la tonne", "3", "150000"),
        ("vends oignon 30 sacs 10 000 f le sac", "30", "10000"),
        ("vends riz 3 tonnes 1.000.000 fcfa la tonne", "3", "1000000"),
        ("卖玉米1.5万斤 每斤1.3元", "15000", "1.3"),
        ("卖苞谷三千斤 每斤1.5元", "3000", "1.5"),
        ("卖玉米 两吨 每吨2600元", "2", "2600"),
        ("卖玉米1000斤，1块2一斤", "1000", "1.2"),
        ("急售土豆3000斤，每斤8毛", "3000", "0.8"),
        ("nauza maharagwe gunia tatu bei 9000", "3", "9000"),
        ("Nauza mahindi gunia 10 elfu 3 kila gunia", "10", "3000"),
        ("nauza mahindi gunia 10 bei elfu tatu mia tano", "10", "3500"),
        ("vends maïs deux tonnes 150000 la tonne", "2", "150000"),
        ("sell maize 50kg 30 0722123456", "50", "30"),  # a phone number is no amount
    ],
)
def test_number_forms(text: str, quantity: str, unit_price: str) -> None:
    result = offer(text)
    assert (result.quantity, result.unit_price) == (Decimal(quantity), Decimal(unit_price))


@pytest.mark.parametrize(
    ("text", "total"),
    [
        ("SELL tomatos 5 crates total 14,500 ksh", "14500"),
        ("sell rice 200kg total 26k ksh", "26000"),
        ("Eggs 30 trays 10,500 total", "10500"),
        ("Nauza nyanya kreti 8 jumla 20000/=", "20000"),
        ("Nauza nyanya kreti 6 bei 40,000 zote", "40000"),
        ("nauza viazi gunia 30 jumla laki moja", "100000"),
        ("vends tomates 10 caisses total 60000 fcfa", "60000"),
        ("Vends manioc 1 tonne à 90000 fcfa au total", "90000"),
        ("sell beans 2 bags 18000 for both", "18000"),
        ("卖大米2000斤，总共5600元", "5600"),
        ("出售木薯5000斤，一共3000元", "3000"),
        ("卖生姜2000斤 总价1.2万元", "12000"),
    ],
)
def test_totals(text: str, total: str) -> None:
    result = offer(text)
    assert (result.unit_price, result.total_price) == (None, Decimal(total))


def test_a_consistent_unit_price_and_total_keep_the_unit_price() -> None:
    result = offer("sell maize 10 bags @3000 total 30000")
    assert (result.unit_price, result.total_price) == (Decimal(3000), None)


def test_a_negotiable_price_is_an_offer_without_price() -> None:
    for text in ("VENDS sorgho 600 kg prix à débattre", "卖玉米500斤 价格面议"):
        result = offer(text)
        assert result.unit_price is None and result.total_price is None


# -------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("text", "quantity", "unit"),
    [
        ("sell maize 50kgs 30", "50", "kg"),
        ("uza maharage kilo 100 bei 130", "100", "kg"),
        ("卖牛奶200公斤 每公斤4元", "200", "kg"),
        ("卖牛奶200千克 每千克4元", "200", "kg"),
        ("sell wheat 20 tonnes 42000 per tonne", "20", "tonne"),
        ("Nauza mahindi tani 2 bei 750000", "2", "tonne"),
        ("vends maïs 5 t 150000 fcfa la t", "5", "tonne"),
        ("出售洋葱3吨 每吨2000元", "3", "tonne"),
        ("卖玉米500斤 每斤1.3元", "500", "jin"),
        ("sell maize 2 bags @3000", "2", "bag"),
        ("uza viazi magunia 15 bei 2200", "15", "bag"),
        ("vends riz 20 sacs 17500 le sac", "20", "bag"),
        ("Nauza onions 10 nets 1200 each", "10", "bag"),
        ("卖土豆30袋 每袋50元", "30", "bag"),
        ("sell 3 debes of maize 500 each", "3", "debe"),
        ("uza mahindi madebe 10 bei 450", "10", "debe"),
        ("sell tomatoes 10 crates 3000 per crate", "10", "crate"),
        ("nyanya kreti 5 bei 3500", "5", "crate"),
        ("vends tomates 15 caisses 6000 la caisse", "15", "crate"),
        ("sell eggs 20 trays 380 each", "20", "tray"),
        ("mayai trei 30 @ 350", "30", "tray"),
        ("vends oeufs 40 plaquettes 2500 la plaquette", "40", "tray"),
        ("出售鸡蛋30盘 每盘25元", "30", "tray"),
        ("SELL MILK 100LTRS @ 48", "100", "litre"),
        ("maziwa lita 60 bei 50", "60", "litre"),
        ("vends lait 50 litres à 500 le litre", "50", "litre"),
        ("卖牛奶100升 每升5元", "100", "litre"),
        ("SELL AVOCADOS 5000PCS @7/=", "5000", "piece"),
        ("sell chicken 15 @ 800", "15", "piece"),  # a count without a unit
        ("卖土鸡30只 每只90元", "30", "piece"),
        ("Nauza ndizi mikungu 20 bei 500 kila mkungu", "20", "piece"),
        ("maziwa 40 bei 50 kwa lita", "40", "litre"),  # the price says what the 40 is
    ],
)
def test_units(text: str, quantity: str, unit: str) -> None:
    result = offer(text)
    assert (result.quantity, result.unit) == (Decimal(quantity), unit)


def test_a_price_per_an_exact_unit_converts_the_quantity() -> None:
    """2 tonnes at 45 per kg: 2000 kg (tonne, kg and jin are defined exactly)."""
    assert (offer("SELL onion 2 tonnes @ 45 per kg").quantity, "kg") == (Decimal(2000), "kg")
    result = offer("卖土豆5吨 每斤0.9元")
    assert (result.quantity, result.unit) == (Decimal(10000), "jin")


def test_unit_kg_and_names() -> None:
    assert unit_kg("kg") == 1 and unit_kg("tonne") == 1000 and unit_kg("jin") == Decimal("0.5")
    assert unit_kg("bag", "maize") == 90 and unit_kg("bag", "potato") == 50
    assert unit_kg("bag", "onion") == 13 and unit_kg("debe", "maize") == 18
    assert unit_kg("crate") is None and unit_kg("piece", "chicken") is None
    with pytest.raises(KeyError):
        unit_kg("cup")
    assert [produce_name("maize", lang) for lang in LANGUAGES] == [
        "maize",
        "mahindi",
        "maïs",
        "玉米",
    ]
    assert [unit_name("bag", lang) for lang in LANGUAGES] == ["bag", "gunia", "sac", "袋"]
    assert unit_name("kg", "en") == "kg" and produce_name("maize", "xx") == "maize"


# --------------------------------------------------------------------- currencies


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("sELL beans 2 bags @9000 ksh", "KES"),
        ("sell maize 50kg 30 kshs", "KES"),
        ("milk 40 litres @45 bob", "KES"),
        ("uza mchele kilo 100 bei tsh 2,500", "TZS"),
        ("sell sorghum 500kg @ 900 ugx", "UGX"),
        ("Selling matooke 50 bunches 15000 ush each", "UGX"),
        ("Selling 10 bags of maize 45,000 naira per bag", "NGN"),
        ("vends maïs 500 kg à 225 f cfa le kg", "XOF"),
        ("VENTE ARACHIDE 500KG 350F LE KG", "XOF"),
        ("vends riz 20 sacs 17500 fcfa le sac", "XOF"),
        ("卖玉米500斤 每斤1.3元", "CNY"),
        ("卖香蕉1500斤 每斤2块", "CNY"),
        ("sell maize 50kg 30 rmb", "CNY"),
        ("Sale potatoes 10 bags 2,500 shs per bag", None),  # shillings of which country?
        ("Nauza nyanya kreti 8 bei 2000/=", None),
        ("sell maize 50kg 30", None),
        ("sell maize 50kg 30 at Kampala", None),  # never from the place
    ],
)
def test_currencies(text: str, currency: str | None) -> None:
    assert offer(text).currency == currency


# ---------------------------------------------------------------- language, place


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("SELL maize 50kg 30", "en"),
        ("uza mahindi gunia 5 bei 3000", "sw"),
        ("vends maïs 2 sacs 4500 fcfa", "fr"),
        ("卖玉米100斤每斤1.5元", "zh"),
        ("Habari yako", "sw"),
        ("Bonjour, comment ça va?", "fr"),
        ("你好", "zh"),
        ("🌽🌽🌽👍", "en"),  # unsure: English
        ("KAZI", "sw"),
        ("ANNULER 5", "fr"),
    ],
)
def test_language(text: str, language: str) -> None:
    assert parse(text).language == language


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("sELL beans 2 bags @9000 ksh at Kisumu", "Kisumu"),
        ("Sale potatoes 10 bags 2,500 shs per bag at Ol Kalou", "Ol Kalou"),
        ("Sell onions 100kgs at 80 per kg at Loitokitok", "Loitokitok"),
        ("Nauza parachichi 500 bei 10 kila moja iko Murang'a", "Murang'a"),
        ("sell maziwa lita 20 @ 50 kutoka Ol Kalou", "Ol Kalou"),
        ("VENDS arachides 2 tonnes à 280000 fcfa la tonne à Kaolack", "Kaolack"),
        ("VENDS riz 20 sacs 17500 fcfa le sac à Richard-Toll", "Richard-Toll"),
        ("vends mais 100kg a 200f le kg a Sikasso", "Sikasso"),
        ("卖玉米500斤，每斤1.3元，在曲靖", "曲靖"),
        ("卖西红柿800斤，2.5元一斤，在元谋", "元谋"),  # 元 inside a name is no yuan
        ("卖核桃 500公斤 每公斤25元 地点：大姚", "大姚"),
        ("曲靖卖玉米1000斤 每斤1.2元", "曲靖"),
        ("Sell 20 bags maize @3200 Eldoret", "Eldoret"),
        ("Selling 40 crates of tomatoes 2.5k each, Loitokitok", "Loitokitok"),
        ("sell maize 50kg 30", None),
        ("sell maize 50kg 30 only", None),
    ],
)
def test_place(text: str, place: str | None) -> None:
    assert offer(text).location == place


def test_produce_synonyms_and_typos() -> None:
    texts = {
        "maize": ["sell corn 5 bags 3000", "uza mahindii gunia 5 bei 3000", "卖苞谷500斤 每斤1元"],
        "potato": ["vends pommes de terre 40 sacs 9000", "卖洋芋2000斤 每斤1元"],
        "sweet potato": ["Nauza viazi vitamu kilo 200 bei 40"],
        "tomato": ["sell tomattoes 5 crates 3000", "sell tomatoos 5 crates 3000"],  # one letter
        "garlic": ["nauza vitunguu saumu kilo 10 bei 300"],
        "chicken": ["Nauza kuku wa kienyeji 8 bei 1000 kila mmoja"],
    }
    for produce, examples in texts.items():
        for text in examples:
            assert offer(text).produce == produce, text


# ----------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("text", "command", "arg", "language"),
    [
        ("HELP", "HELP", None, "en"),
        ("MSAADA", "HELP", None, "sw"),
        ("STOP sending me sms", "STOP", None, "en"),
        ("退订", "STOP", None, "zh"),
        ("ANZA", "START", None, "sw"),
        ("JOBS", "JOBS", None, "en"),
        ("KAZI", "JOBS", None, "sw"),
        ("EMPLOIS", "JOBS", None, "fr"),
        ("找工作", "JOBS", None, "zh"),
        ("LANG SW", "LANG", "sw", "en"),
        ("lugha kiswahili", "LANG", "sw", "sw"),
        ("langue français", "LANG", "fr", "fr"),
        ("语言 中文", "LANG", "zh", "zh"),
        ("语言英文", "LANG", "en", "zh"),
        ("LANGUE WOLOF", "LANG", None, "fr"),
        ("CANCEL 12", "CANCEL", "12", "en"),
        ("cancel #3", "CANCEL", "3", "en"),
        ("FUTA 4", "CANCEL", "4", "sw"),
        ("GHAIRI 10", "CANCEL", "10", "sw"),
        ("annuler l'offre 8", "CANCEL", "8", "fr"),
        ("取消 12号", "CANCEL", "12", "zh"),
        ("SOLD 7", "SOLD", "7", "en"),
        ("IMEUZWA 3", "SOLD", "3", "sw"),
        ("VENDU 2", "SOLD", "2", "fr"),
        ("已售5", "SOLD", "5", "zh"),
        ("SOLD", "SOLD", None, "en"),
        ("ALERT beans", "ALERT", "beans", "en"),
        ("ARIFA mahindi", "ALERT", "maize", "sw"),
        ("ALERTE oignon", "ALERT", "onion", "fr"),
        ("关注玉米", "ALERT", "maize", "zh"),
    ],
)
def test_commands(text: str, command: str, arg: str | None, language: str) -> None:
    assert parse(text) == Command(command, arg, language)


# ------------------------------------------------------------- unclear, unparseable


@pytest.mark.parametrize(
    ("text", "problem", "understood"),
    [
        (
            "SELL maize -10 bags 3000",
            "negative_quantity",
            {"quantity": Decimal(-10), "unit": "bag"},
        ),
        ("卖玉米-100斤 每斤1元", "negative_quantity", {"produce": "maize"}),
        ("sell maize 10 bags @ -30", "negative_price", {"quantity": Decimal(10)}),
        ("sell milk 20,5 litres @50", "ambiguous_number", {"number": "20,5"}),
        ("Vends mil 10 sacs 18.000 le sac", "ambiguous_number", {"number": "18.000"}),
        ("SELL 50kg @ 30", "unknown_produce", {"quantity": Decimal(50), "unit": "kg"}),
        ("sell beans @ 120", "no_quantity", {"produce": "beans", "unit_price": Decimal(120)}),
        ("sell rice 0 kg @150", "zero_quantity", {"quantity": Decimal(0)}),
        ("sell maize 5000000 bags @3000", "too_large", {"quantity": Decimal(5000000)}),
        ("Nauza mahindi gunia 10 bei 300000000", "too_large", {"unit": "bag"}),
        ("SELL maize 2-3 bags 3000", "conflicting_quantities", {"quantity": Decimal(2)}),
        ("SELL maize 10 bags @ 40 per kg", "unit_mismatch", {"unit": "bag"}),
        ("sell potatoes 10 bags @ 2000 @ 2500", "conflicting_prices", {"produce": "potato"}),
        ("卖玉米100斤 每斤1.2元 总价150元", "conflicting_prices", {"currency": "CNY"}),
        ("sell maize 10 bags @ 0", "zero_price", {"produce": "maize"}),
        ("sell maize 50kg", "no_price", {"quantity": Decimal(50), "unit": "kg"}),
    ],
)
def test_unclear(text: str, problem: str, understood: dict[str, object]) -> None:
    result = parse(text)
    assert isinstance(result, Unclear), result
    assert result.problem == problem
    assert understood.items() <= result.understood.items()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "🌽🌽🌽👍",
        "Habari yako",
        "Good morning",
        "Bei ya mahindi leo ni ngapi?",
        "玉米今天多少钱一斤？",
        "Quel est le prix de l'arachide cette semaine ?",
        "I want to buy 10 bags of maize",
        "收购玉米，价格高",
        "SELL maize'; DROP TABLE offers;--",
        "<script>alert(1)</script>",
        "maize",
        "50kg 30",
        " ".join(["Habari, tulivuna gunia 3 tu za mahindi mwaka huu."] * 5),  # a letter
    ],
)
def test_unparseable(text: str) -> None:
    assert isinstance(parse(text), Unparseable)


def test_parse_never_raises() -> None:
    """Texts of the corpus with characters inserted, dropped and spliced."""
    rnd = random.Random(20261129)
    texts = [r["text"] for r in ROWS]
    pieces = list("0123456789,.-/=@kK万千一斤元 aé'’:?") + ["000", " 000", "gunia", "每", "elfu"]
    for _ in range(3000):
        chars = list(rnd.choice(texts))
        for _ in range(rnd.randint(1, 6)):
            at = rnd.randint(0, len(chars))
            if rnd.random() < 0.5:
                chars[at:at] = list(rnd.choice(pieces))
            elif chars:
                del chars[min(at, len(chars) - 1)]
        parse("".join(chars))


# ------------------------------------------------------------------- vocabularies


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "vocabularies"
    shutil.copytree(VOCABULARIES, folder)
    return folder


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "produce.yaml",
            "  sw: [ndengu,",
            "  xx: [ndengu,",
            r"produce.yaml: green gram.xx: unknown",
        ),
        (
            "produce.yaml",
            "  fr: [blé]",
            "  fr: [riz]",
            r"produce.yaml: wheat: 'riz' is already produce 'rice'",
        ),
        (
            "produce.yaml",
            "  en: [honey]",
            "  en: honey",
            r"produce.yaml: honey.en: expected a list",
        ),
        (
            "units.yaml",
            "  kg: 90\n",
            "  kg: -90\n",
            r"units.yaml: bag.kg: expected a positive number",
        ),
        (
            "units.yaml",
            "    onion: 13",
            "    onions: 13",
            r"units.yaml: bag.per_produce.onions: not in produce",
        ),
        (
            "units.yaml",
            "  kg: null\n  exact: false\n  source: a tray",
            "  kg: null\n  exact: true\n  source: a tray",
            r"units.yaml: tray.exact",
        ),
        (
            "units.yaml",
            "    sw: [gunia,",
            "    sw: [lita, gunia,",
            r"units.yaml: litre.words: 'lita' is already unit 'bag'",
        ),
        ("currencies.yaml", "TZS:", "TSH1:", r"currencies.yaml: TSH1: expected an ISO 4217 code"),
        (
            "currencies.yaml",
            "    毛: 0.1",
            "    毛: lots",
            r"currencies.yaml: CNY.subunits.毛: expected a positive",
        ),
        (
            "commands.yaml",
            "  takes: produce",
            "  takes: crop",
            r"commands.yaml: ALERT: expected takes",
        ),
        ("phrases.yaml", "\nnegotiable:", "\nhaggle:", r"phrases.yaml: haggle: unknown role"),
        ("numbers.yaml", "\nscales:", "\nscale:", r"numbers.yaml: words/scales: expected exactly"),
        (
            "numbers.yaml",
            "  7:\n",
            "  seven:\n",
            r"numbers.yaml: number.seven: expected a whole number",
        ),
        (
            "commands.yaml",
            "JOBS:\n  takes: none",
            "JOBS:\n  takes: [none",
            r"commands.yaml: not valid YAML",
        ),
    ],
)
def test_vocabulary_mistakes_name_the_file_and_key(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    folder = _copy(tmp_path)
    path = folder / file
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), "utf-8")
    with pytest.raises(ValueError, match=message):
        load_vocabularies(folder)


def test_a_missing_vocabulary_file_is_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "units.yaml").unlink()
    with pytest.raises(ValueError, match=r"units.yaml: missing"):
        load_vocabularies(folder)


def test_vocabularies_load_once() -> None:
    assert load_vocabularies() is load_vocabularies()

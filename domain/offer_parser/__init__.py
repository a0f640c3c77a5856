"""Produce offers texted in people's own words, in English, Kiswahili, French and Chinese.

``parse(text)`` reads one SMS and returns what it is: an ``Offer`` ("SELL maize
50kg 30", "uza mahindi gunia 5 bei 3000", "vends maïs 2 sacs 4500 fcfa",
"卖玉米100斤每斤1.5元"), a ``Command`` (STOP/START/HELP by ``domain.keywords``,
JOBS, LANG, CANCEL, SOLD, ALERT), an ``Unclear`` offer whose amounts must be asked
about rather than guessed, or ``Unparseable`` (greetings, questions, letters,
emoji, injection attempts). The words live in ``vocabularies/*.yaml``; this
package holds only the grammar: a tokenizer, then one left-to-right pass that
reads each number as a quantity or a price from the words around it.

Labelling rules it follows (``tests/fixtures/sms/produce-offers.jsonl``): a bare
price is per unit; a currency comes only from a currency word, never from the
place; "/=" alone names no currency; a count with no unit is pieces. A price per
another unit converts the quantity when both are exact (2 tonnes at 45 per kg is
2000 kg; tonne, kg and jin are defined); bags, debes and crates are not, so "10
bags at 40 per kg" is asked about. ``evaluate(rows)`` scores the parser on such a
corpus (``python -m bench.offers``).

``results`` holds what ``parse`` returns, ``vocabulary`` loads the words,
``tokens`` the tokenizer, ``grammar`` reads and judges an offer and
``evaluation`` scores a corpus.
"""

from domain.offer_parser.evaluation import OFFER_FIELDS, Accuracy, Miss, evaluate, expect_of
from domain.offer_parser.grammar import MAX_PRICE, MAX_QUANTITY, MAX_WORDS, parse
from domain.offer_parser.results import Command, Offer, Parsed, Unclear, Unparseable
from domain.offer_parser.tokens import fold
from domain.offer_parser.vocabulary import (
    LANGUAGES,
    VOCABULARIES,
    Entry,
    Vocabulary,
    all_produce,
    is_produce,
    load_vocabularies,
    produce_name,
    unit_kg,
    unit_name,
    units,
)

__all__ = [
    "LANGUAGES",
    "MAX_PRICE",
    "MAX_QUANTITY",
    "MAX_WORDS",
    "OFFER_FIELDS",
    "VOCABULARIES",
    "Accuracy",
    "Command",
    "Entry",
    "Miss",
    "Offer",
    "Parsed",
    "Unclear",
    "Unparseable",
    "Vocabulary",
    "all_produce",
    "evaluate",
    "expect_of",
    "fold",
    "is_produce",
    "load_vocabularies",
    "parse",
    "produce_name",
    "unit_kg",
    "unit_name",
    "units",
]

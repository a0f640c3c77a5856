"""SMS keywords: what an inbound text asks for (STOP, START, HELP) and in which language.

``match`` reads the first word of a text the way people type it on a basic
phone: any case, spaces and punctuation around it, words after it ("Stop
please"), accents or not ("arrêt", "ARRET"), full-width forms (NFKC). A keyword
is a whole word, never part of one: "STOPPED" is not STOP, "Ending" is not END;
END and QUIT count only as the whole text ("end of season prices?" is not).
Chinese is written without spaces, so its keywords match as a prefix of the
text with spaces and punctuation removed ("退订谢谢" is 退订).
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple


class Keyword(NamedTuple):
    name: str  # "stop", "start" or "help"
    language: str  # the language the word belongs to: "en", "sw", "fr", "zh"


#: language → keyword name → the words that mean it, as written (accents, case
#: and width do not matter when matching). A word listed in two languages
#: belongs to the first one listed here ("STOP" is English, and French too).
#: Sources: the usual carrier opt-out words (STOP, STOPALL, UNSUBSCRIBE, QUIT,
#: END, OPTOUT) and their Kiswahili, French and Chinese counterparts; "TD"
#: (退订) is the opt-out reply Chinese senders conventionally ask for.
VOCABULARY: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "stop": ("STOP", "STOPALL", "UNSUBSCRIBE", "QUIT", "END", "OPTOUT", "OPT OUT"),
        "start": ("START", "UNSTOP", "SUBSCRIBE"),
        "help": ("HELP", "INFO"),
    },
    "sw": {
        "stop": ("ACHA", "SITISHA", "KOMESHA"),
        "start": ("ANZA", "ENDELEA"),
        "help": ("MSAADA", "SAIDIA"),
    },
    "fr": {
        "stop": ("ARRET", "ARRÊT", "ARRETE", "ARRÊTE", "ARRETEZ", "STOP", "DESABONNER"),
        "start": ("DEMARRER", "DÉMARRER", "REPRENDRE"),
        "help": ("AIDE",),
    },
    "zh": {
        "stop": ("退订", "TD", "取消订阅", "停止"),
        "start": ("订阅", "开始"),
        "help": ("帮助",),
    },
}

#: Words that opt out only as the whole message: "END" or "Quit." is a wish,
#: "end of season prices?" or "quit smoking tips" is not.
ALONE_ONLY = frozenset({("end",), ("quit",)})

# CJK ideographs (the unified blocks and compatibility ideographs) form words of
# their own: "TD退订" is two words, so TD still starts it.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")


def _fold(text: str) -> str:
    """NFKC (full-width → ASCII), case-folded, accents removed."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def _words(text: str) -> list[str]:
    return _WORD.findall(_fold(text))


def _is_cjk(word: str) -> bool:
    return bool(re.fullmatch(rf"[{_CJK}]+", word))


def _index() -> tuple[dict[tuple[str, ...], Keyword], list[tuple[str, Keyword]]]:
    words: dict[tuple[str, ...], Keyword] = {}
    prefixes: list[tuple[str, Keyword]] = []
    for language, names in VOCABULARY.items():
        for name, spellings in names.items():
            for spelling in spellings:
                key = tuple(_words(spelling))
                if len(key) == 1 and _is_cjk(key[0]):
                    prefixes.append((key[0], Keyword(name, language)))
                else:
                    words.setdefault(key, Keyword(name, language))
    # Longest first, so 取消订阅 is tried before a shorter word it starts with.
    prefixes.sort(key=lambda item: -len(item[0]))
    return words, prefixes


_BY_WORDS, _BY_PREFIX = _index()
_LONGEST = max(len(key) for key in _BY_WORDS)


def match(text: str) -> Keyword | None:
    """The keyword ``text`` starts with, or None (empty, emoji, anything else).

    Latin-script keywords are whole words at the start ("OPT OUT" is two);
    Chinese keywords are a prefix of the text without spaces or punctuation.
    """
    words = _words(text)
    if not words:
        return None
    for n in range(min(_LONGEST, len(words)), 0, -1):
        key = tuple(words[:n])
        found = _BY_WORDS.get(key)
        if found is not None and (key not in ALONE_ONLY or len(words) == n):
            return found
    if _is_cjk(words[0]):
        compact = "".join(words)
        for prefix, keyword in _BY_PREFIX:
            if compact.startswith(prefix):
                return keyword
    return None

"""Babel catalogs, used with an explicit language.

USSD screens and SMS are rendered in the caller's or recipient's language, not
the HTTP request's, so the menus ask for a language's catalog by code. Catalogs
are compiled ``.mo`` files under ``locales/<lang>/LC_MESSAGES/messages.mo``
(``make translations``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

#: Languages with a Babel catalog under ``locales/``, in the order the language
#: screen offers them. English is the source language.
LANGUAGES = ("en", "sw", "fr", "zh")

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"

#: Language names as their speakers write them, for the language screen.
NATIVE_NAMES = {"en": "English", "sw": "Kiswahili", "fr": "Français", "zh": "中文"}


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark ``message`` for extraction by ``pybabel extract -k N_``; return it unchanged."""
    return message


@cache
def catalog(language: str) -> NullTranslations:
    """The compiled catalog for ``language``; English (the source) needs none.

    Raises ``LookupError`` for a language we do not ship, and ``FileNotFoundError``
    when a shipped language's catalog was not compiled (run ``make translations``).
    """
    if language not in LANGUAGES:
        raise LookupError(f"unsupported language {language!r}")
    if language == "en":
        return NullTranslations()
    mo = LOCALES_DIR / language / "LC_MESSAGES" / "messages.mo"
    if not mo.exists():
        raise FileNotFoundError(f"{mo} missing: run `make translations`")
    return Translations.load(str(LOCALES_DIR), [language])


def gettext_for(language: str) -> Callable[[str], str]:
    """Return ``gettext`` bound to ``language``'s catalog."""
    return catalog(language).gettext


def join_sentences(language: str, *sentences: str) -> str:
    """Sentences one after another as ``language`` writes them: with a space,
    none in Chinese (``。`` ends a sentence with no space after it)."""
    return ("" if language == "zh" else " ").join(s for s in sentences if s)

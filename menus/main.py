"""The villager's main menu, the language screens, and entries later work fills."""

from __future__ import annotations

from domain.subscribers import set_language
from domain.translation import LANGUAGES, N_, NATIVE_NAMES, gettext_for
from menus import household, jobs, messages, staff
from menus.context import Context
from menus.menu import Effect, Menu, Option, State
from models import Topic


def _set_language(code: str) -> Effect:
    def store(ctx: Context) -> None:
        set_language(ctx.db, ctx.subscriber_id, code)

    def effect(ctx: Context) -> None:
        ctx.language = ctx.language_chosen = code
        ctx.gettext = gettext_for(code)
        ctx.run(store)

    effect.__name__ = f"set_language_{code}"
    return effect


def _open_topic(topic: Topic) -> Effect:
    def effect(ctx: Context) -> None:
        ctx.data["topic"] = topic.value

    effect.__name__ = f"open_{topic.value}"
    return effect


def _forget_staff(ctx: Context) -> None:
    """Signing in again asks for the PIN again: drop an earlier sign-in."""
    ctx.data.pop("cadre", None)
    ctx.data.pop("survey", None)


def _first_language_title(ctx: Context) -> str:
    # Shown before we know the caller's language: say it in all four.
    return "Language/Lugha/Langue/语言"


LANGUAGE_OPTIONS = tuple(
    Option(str(i), NATIVE_NAMES[code], "home", _set_language(code))
    for i, code in enumerate(LANGUAGES, 1)
)


def _coming_soon(name: str, title: str, body: str) -> State:
    return State(name, title, body=body, back="home")


MENU = Menu(
    name="main",
    roots=frozenset({"home", "choose_language"}),
    states=[
        State(
            "home",
            N_("Ngazi main menu"),
            options=(
                Option(
                    "1",
                    N_("Policies & benefits"),
                    "content:categories",
                    _open_topic(Topic.POLICIES),
                ),
                Option("2", N_("Jobs"), "jobs:list", jobs.enter),
                Option("3", N_("Market"), "market:home"),
                Option("4", N_("Health advice"), "content:categories", _open_topic(Topic.HEALTH)),
                Option("5", N_("Education"), "content:categories", _open_topic(Topic.EDUCATION)),
                # The same entry for everyone; where it leads depends on the record.
                Option("6", N_("My household"), "household:none", guard=household.no_record),
                Option("6", N_("My household"), "household:choose_pin", guard=household.needs_pin),
                Option("6", N_("My household"), "household:pin", guard=household.has_pin),
                Option("7", N_("Language"), "language"),
                Option("8", N_("Staff"), "staff:pin", _forget_staff, when=staff.is_cadre),
                Option("9", N_("SMS messages"), "messages:home", messages.enter),
            ),
        ),
        # First dial from a number we do not know: pick a language, then home.
        State("choose_language", _first_language_title, options=LANGUAGE_OPTIONS),
        State("language", N_("Language"), options=LANGUAGE_OPTIONS, back="home"),
    ],
)

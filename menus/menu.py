"""Menus as data: states, options and where each goes.

A feature declares one ``Menu`` in ``menus/<feature>.py``. Destinations are a
state of the same menu (``"articles"``) or of another (``"main:home"``). Effects
are small named functions run when an option is taken; what they do outside the
session (write the database, send an SMS) goes through ``ctx.run(...)``, so a
shortcut replay can hold it back until the whole path proves valid. ``Menu.machine`` is the
``transitions`` machine for the menu, built once and shared by every session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from transitions import Machine

if TYPE_CHECKING:
    from menus.context import Context

Effect = Callable[["Context"], None]
Text = Callable[["Context"], str]  # returns text already in the caller's language


@dataclass(frozen=True)
class Option:
    """A numbered choice: ``key`` typed by the caller, ``label`` a msgid (or a
    function giving the text, translated).

    ``when(ctx)``, if given, decides whether the option is shown (and so can be
    taken) for this caller: the staff entry is shown to cadres only. Of several
    options sharing a key it also routes: the one taken is the one the screen
    showed ("1 Stop all messages" or "1 Get messages again").
    ``guard(ctx)`` routes without changing what is shown: several options may
    share a key and a label, and the first whose guard passes is taken ("My
    household" goes to the record, the PIN, or "no record yet").
    """

    key: str
    label: str | Text
    dest: str
    effect: Effect | None = None
    when: Callable[[Context], bool] | None = None
    guard: Callable[[Context], bool] | None = None


@dataclass(frozen=True)
class Outcome:
    """What an ``Input`` made of one typed answer.

    ``error`` is a one-line hint, already translated, shown above the same
    screen; ``leave`` moves the session to the input's ``dest`` (a survey's last
    answer, a PIN that checks out). Neither: stay and show the screen again (the
    next question of a survey is the same state with new data).
    """

    error: str | None = None
    leave: bool = False


@dataclass(frozen=True)
class Input:
    """A screen that takes typed text (a PIN, a survey answer) instead of a choice.

    ``accept(ctx, text)`` judges one input. ``back(ctx)`` steps back inside the
    input (a survey's previous question) and returns False when there is
    nothing left to step back to (then the state's ``back`` applies).
    ``zero_answers(ctx)`` is True when ``0`` is a valid answer (an age, a
    number of minutes): then ``0`` is taken as the answer and ``00`` means back;
    otherwise ``0`` is back and ``00`` home, as everywhere. ``hints(ctx)`` lists
    every error line ``accept`` can give for the screen shown, translated, so
    pages keep room for them. ``secret`` inputs (PINs) are never stored: the
    session keeps ``#`` in their place in the input history.
    """

    accept: Callable[[Context, str], Outcome]
    dest: str
    back: Callable[[Context], bool] | None = None
    zero_answers: Callable[[Context], bool] | None = None
    hints: Callable[[Context], tuple[str, ...]] | None = None
    secret: bool = False


@dataclass(frozen=True)
class Items:
    """A list read at run time (categories, articles); item *n* is typed as ``n``.

    ``load(ctx)`` returns ``[(id, label), …]`` in the caller's language; picking
    one stores its id as ``ctx.data[key]`` and goes to ``dest``.
    """

    load: Callable[[Context], Sequence[tuple[int, str]]]
    key: str
    dest: str
    effect: Effect | None = None  # run after the pick, with ``ctx.data[key]`` set


@dataclass(frozen=True)
class State:
    """One screen. ``title`` and ``body`` are msgids or functions of the context.

    ``back`` is where ``0`` goes (None only for a menu's roots); ``final``
    states answer ``END``. ``empty`` is the msgid shown when ``items`` is empty.
    ``lines(ctx)`` gives extra lines under the body (a question's choices,
    already numbered and translated); ``input`` makes the screen take typed text.
    """

    name: str
    title: str | Text
    body: str | Text | None = None
    options: tuple[Option, ...] = ()
    items: Items | None = None
    back: str | None = None
    final: bool = False
    empty: str | None = None
    lines: Callable[[Context], tuple[str, ...]] | None = None
    input: Input | None = None

    def option(self, key: str) -> Option | None:
        for opt in self.options:
            if opt.key == key:
                return opt
        return None

    def shown(self, ctx: Context) -> list[Option]:
        """The options this caller sees: visible ones, the first of each key."""
        out: list[Option] = []
        keys: set[str] = set()
        for opt in self.options:
            if opt.key not in keys and (opt.when is None or opt.when(ctx)):
                out.append(opt)
                keys.add(opt.key)
        return out


@dataclass
class Menu:
    name: str
    states: Sequence[State]
    roots: frozenset[str] = frozenset()  # entry points that need no way back
    # Checked before every input in this menu's states but ``public`` ones: False
    # sends the caller home (staff menus require a signed-in, still active cadre).
    requires: Callable[[Context], bool] | None = None
    public: frozenset[str] = frozenset()
    by_name: dict[str, State] = field(init=False)
    machine: Machine = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {s.name: s for s in self.states}
        self.machine = self._build_machine()

    def qualify(self, dest: str) -> str:
        return dest if ":" in dest else f"{self.name}:{dest}"

    def local(self, qualified: str) -> str:
        """The machine state for a qualified destination: local name, or the
        qualified name of another menu's state (a portal the engine crosses)."""
        menu, _, state = qualified.partition(":")
        return state if menu == self.name else qualified

    def edges(self) -> list[tuple[str, str, str]]:
        """Every declared edge as ``(source, trigger, qualified destination)``."""
        out: list[tuple[str, str, str]] = []
        for st in self.states:
            for opt in st.options:
                out.append((st.name, "choose", self.qualify(opt.dest)))
            if st.items is not None:
                out.append((st.name, "pick", self.qualify(st.items.dest)))
            if st.input is not None:
                out.append((st.name, "submit", self.qualify(st.input.dest)))
            if st.back is not None:
                out.append((st.name, "back", self.qualify(st.back)))
            out.append((st.name, "home", "main:home"))
        return out

    def _build_machine(self) -> Machine:
        portals = sorted(
            {dest for _src, _trg, dest in self.edges() if not dest.startswith(self.name + ":")}
        )
        transitions: list[dict[str, Any]] = []
        for st in self.states:
            keys = [opt.key for opt in st.options]
            for opt in st.options:
                # Of options sharing a key, the one taken is the one shown.
                shared = keys.count(opt.key) > 1
                transitions.append(
                    {
                        "trigger": "choose",
                        "source": st.name,
                        "dest": self.local(self.qualify(opt.dest)),
                        "conditions": _key_is(opt.key, opt.guard or (opt.when if shared else None)),
                        "after": _effect(opt.effect),
                    }
                )
            if st.items is not None:
                transitions.append(
                    {
                        "trigger": "pick",
                        "source": st.name,
                        "dest": self.local(self.qualify(st.items.dest)),
                        "before": _remember(st.items.key),
                        "after": _effect(st.items.effect),
                    }
                )
            if st.input is not None:
                transitions.append(
                    {
                        "trigger": "submit",
                        "source": st.name,
                        "dest": self.local(self.qualify(st.input.dest)),
                    }
                )
            if st.back is not None:
                transitions.append(
                    {
                        "trigger": "back",
                        "source": st.name,
                        "dest": self.local(self.qualify(st.back)),
                    }
                )
            transitions.append(
                {"trigger": "home", "source": st.name, "dest": self.local("main:home")}
            )
        return Machine(
            model=None,
            states=[s.name for s in self.states] + portals,
            transitions=transitions,
            initial=None,
            auto_transitions=False,
            send_event=True,
            name=self.name,
        )


def translated(*msgids: str) -> Callable[[Context], tuple[str, ...]]:
    """``msgids`` in the caller's language, as ``Input.hints`` wants them."""

    def hints(ctx: Context) -> tuple[str, ...]:
        return tuple(ctx.gettext(m) for m in msgids)

    return hints


def _key_is(key: str, guard: Callable[[Context], bool] | None) -> Callable[[Any], bool]:
    def condition(event: Any) -> bool:
        if event.kwargs["key"] != key:
            return False
        return guard is None or guard(event.kwargs["ctx"])

    condition.__name__ = f"key_is_{key}"
    return condition


def _effect(effect: Effect | None) -> list[Callable[[Any], None]]:
    if effect is None:
        return []

    def run(event: Any) -> None:
        effect(event.kwargs["ctx"])

    run.__name__ = effect.__name__
    return [run]


def _remember(key: str) -> Callable[[Any], None]:
    def remember(event: Any) -> None:
        event.kwargs["ctx"].data[key] = event.kwargs["item"]

    return remember

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
    """A numbered choice: ``key`` typed by the caller, ``label`` a msgid."""

    key: str
    label: str
    dest: str
    effect: Effect | None = None


@dataclass(frozen=True)
class Items:
    """A list read at run time (categories, articles); item *n* is typed as ``n``.

    ``load(ctx)`` returns ``[(id, label), …]`` in the caller's language; picking
    one stores its id as ``ctx.data[key]`` and goes to ``dest``.
    """

    load: Callable[[Context], Sequence[tuple[int, str]]]
    key: str
    dest: str


@dataclass(frozen=True)
class State:
    """One screen. ``title`` is a msgid or a function of the context.

    ``back`` is where ``0`` goes (None only for a menu's roots); ``final``
    states answer ``END``. ``empty`` is the msgid shown when ``items`` is empty.
    """

    name: str
    title: str | Text
    body: Text | None = None
    options: tuple[Option, ...] = ()
    items: Items | None = None
    back: str | None = None
    final: bool = False
    empty: str | None = None

    def option(self, key: str) -> Option | None:
        for opt in self.options:
            if opt.key == key:
                return opt
        return None


@dataclass
class Menu:
    name: str
    states: Sequence[State]
    roots: frozenset[str] = frozenset()  # entry points that need no way back
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
            for opt in st.options:
                transitions.append(
                    {
                        "trigger": "choose",
                        "source": st.name,
                        "dest": self.local(self.qualify(opt.dest)),
                        "conditions": _key_is(opt.key),
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


def _key_is(key: str) -> Callable[[Any], bool]:
    def condition(event: Any) -> bool:
        return bool(event.kwargs["key"] == key)

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

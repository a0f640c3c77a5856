"""The USSD engine: turn one gateway callback into one screen.

Input becomes events here and only here: ``0`` back (or the previous page),
``00`` home, ``98`` more; any other input is an option or list item of the
current state, or an invalid choice that re-shows the screen with a one-line
error. Each menu's ``transitions`` machine is shared: the session's model is
added for the callback and removed after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from domain.subscribers import start_ussd_session
from domain.translation import N_, gettext_for
from menus.context import Context
from menus.menu import Menu, State
from menus.screen import Layout, Limits, Page, fold_to_gsm7, page_at, paginate
from menus.session import SessionState, SessionStore

BACK, HOME, MORE = "0", "00", "98"

INVALID = N_("Invalid choice. Try again.")
RESTARTED = N_("Session restarted.")
MSG_MORE = N_("More")
MSG_BACK = N_("Back")
MSG_HOME = N_("Home")


class _Model:
    """What the shared machine moves: just the state name."""

    state: str


@dataclass(frozen=True)
class Caller:
    session_id: str
    msisdn: str
    service_code: str
    network_code: str | None
    text: str


class Engine:
    def __init__(
        self,
        menus: Mapping[str, Menu],
        *,
        limits: Limits,
        default_language: str,
        fold_to_gsm7: bool = True,
        home: str = "main:home",
        first_time: str = "main:choose_language",
    ) -> None:
        self.menus = menus
        self.limits = limits
        self.default_language = default_language
        self.fold_to_gsm7 = fold_to_gsm7
        self.home = home
        self.first_time = first_time

    # -- one callback -----------------------------------------------------------

    def handle(self, caller: Caller, *, db: Session, store: SessionStore) -> str:
        """Answer one callback with ``"CON …"`` or ``"END …"``.

        A repeated callback (same ``text``) gets the stored answer again and runs
        no effect twice; a racing copy loses the compare-and-set and answers what
        the winner stored.
        """
        inputs = caller.text.split("*") if caller.text else []
        for _attempt in range(3):
            saved, stored_n = store.load(caller.session_id)
            if saved is not None and caller.text == saved.text:
                return saved.answer
            if saved is not None and _is_prefix(caller.text, saved.text):
                return saved.answer  # a late copy of an earlier callback
            state, todo, notice, strict = self._resume(caller, saved, inputs, db)
            ctx = self._context(caller, state, db, notice)
            error = self._run(state, ctx, todo, strict)
            if error == "restart":
                state = self._at(self.home, state, ctx)
                ctx.notice, error = RESTARTED, ""
            state.language = ctx.language
            state.n, state.text = len(inputs), caller.text
            state.answer = self.render(state, ctx, invalid=bool(error))
            state.banner = self.banner(ctx, invalid=bool(error))
            if store.save(caller.session_id, state, stored_n):
                return state.answer
        raise RuntimeError(f"session {caller.session_id} kept changing under us")

    def _resume(
        self, caller: Caller, saved: SessionState | None, inputs: list[str], db: Session
    ) -> tuple[SessionState, list[str], str | None, bool]:
        """The state to act from, the inputs still to act on, a notice, and whether
        an invalid input should restart rather than re-show (shortcut replay)."""
        if saved is not None:
            if caller.text.startswith(saved.text + "*") or not saved.text:
                return saved, inputs[saved.n :], None, False
            # The history changed under us: act as if the state were lost.
            return self._fresh(saved.subscriber_id, saved.language, self.home), [], RESTARTED, False
        start = start_ussd_session(
            db,
            session_id=caller.session_id,
            msisdn=caller.msisdn,
            service_code=caller.service_code,
            network_code=caller.network_code,
        )
        language = start.language or self.default_language
        if not inputs:
            where = self.home if start.language else self.first_time
            return self._fresh(start.subscriber_id, language, where, caller.msisdn), [], None, False
        fresh = self._fresh(start.subscriber_id, language, self.home, caller.msisdn)
        if start.seen_before:  # Redis lost this session's state
            return fresh, [], RESTARTED, False
        return fresh, inputs, None, True  # a shortcut dial: *384*1234*1*2#

    def _fresh(
        self, subscriber_id: int, language: str, where: str, msisdn: str = ""
    ) -> SessionState:
        menu, _, state = where.partition(":")
        return SessionState(msisdn, subscriber_id, language, menu, state)

    def _context(
        self, caller: Caller, state: SessionState, db: Session, notice: str | None
    ) -> Context:
        return Context(
            session_id=caller.session_id,
            msisdn=caller.msisdn,
            subscriber_id=state.subscriber_id,
            language=state.language,
            db=db,
            gettext=gettext_for(state.language),
            data=state.data,
            hop=state.n,
            notice=notice,
        )

    def _run(self, state: SessionState, ctx: Context, todo: list[str], strict: bool) -> str:
        """Apply each input in turn; return "" or the last input's error."""
        error = ""
        for key in todo:
            ctx.hop += 1
            if self.menus[state.menu].by_name[state.state].final:
                return "restart" if strict else "invalid"
            error = "" if self.step(state, ctx, key.strip()) else "invalid"
            if error and strict:
                return "restart"
            state.banner = ctx.gettext(INVALID) if error else ""
        return error

    # -- one input ----------------------------------------------------------------

    def step(self, state: SessionState, ctx: Context, key: str) -> bool:
        """Apply one input to ``state``; False when it is not a valid choice there."""
        menu = self.menus[state.menu]
        st = menu.by_name[state.state]
        if key == HOME:
            return self._fire(state, ctx, "home")
        if key == BACK:
            pages = self.pages(state, ctx, state.banner)
            shown = page_at(pages, state.offset)
            if shown > 0:
                state.offset = pages[shown - 1].start
                return True
            return st.back is not None and self._fire(state, ctx, "back")
        if key == MORE:
            pages = self.pages(state, ctx, state.banner)
            shown = page_at(pages, state.offset)
            if not pages[shown].last:
                state.offset = pages[shown + 1].start
                return True
            return False
        if st.option(key) is not None:
            return self._fire(state, ctx, "choose", key=key)
        if st.items is not None and key.isdigit() and len(key) <= 4:
            items = st.items.load(ctx)
            if 1 <= int(key) <= len(items):
                return self._fire(state, ctx, "pick", item=items[int(key) - 1][0])
        return False

    def _fire(self, state: SessionState, ctx: Context, trigger: str, **kwargs: object) -> bool:
        menu = self.menus[state.menu]
        model = _Model()
        menu.machine.add_model(model, initial=state.state)
        try:
            moved = bool(model.trigger(trigger, ctx=ctx, **kwargs))  # type: ignore[attr-defined]
        finally:
            menu.machine.remove_model(model)
        if moved:
            self._at(menu.qualify(model.state), state, ctx)
        return moved

    def _at(self, qualified: str, state: SessionState, ctx: Context) -> SessionState:
        state.menu, _, state.state = qualified.partition(":")
        state.offset = 0
        return state

    # -- rendering ----------------------------------------------------------------

    def layout(self, state: SessionState, ctx: Context) -> Layout:
        st = self.menus[state.menu].by_name[state.state]
        _ = ctx.gettext
        title = st.title(ctx) if callable(st.title) else _(st.title)
        body = st.body(ctx) if st.body is not None else ""
        lines = [f"{opt.key} {_(opt.label)}" for opt in st.options]
        if st.items is not None:
            items = st.items.load(ctx)
            lines += [f"{i} {label}" for i, (_id, label) in enumerate(items, 1)]
            if not items and st.empty:
                body = _(st.empty)
        nav_last = "" if st.final else _nav(st, _)
        nav_more = f"{MORE} {_(MSG_MORE)}\n{BACK} {_(MSG_BACK)}"
        return Layout(title, body, tuple(lines), nav_last, nav_more)

    def pages(self, state: SessionState, ctx: Context, banner: str = "") -> tuple[Page, ...]:
        """The state's pages; a banner (error or notice) takes the title's place."""
        st = self.menus[state.menu].by_name[state.state]
        layout = self.layout(state, ctx)
        if banner:
            layout = layout._replace(banner=banner)
        if self.fold_to_gsm7:
            layout = fold_to_gsm7(layout)
        return paginate(layout, "END " if st.final else "CON ", self.limits)

    def render(self, state: SessionState, ctx: Context, *, invalid: bool = False) -> str:
        """The full answer for ``state``: prefix, one-line notice or error, page."""
        st = self.menus[state.menu].by_name[state.state]
        banner = self.banner(ctx, invalid)
        pages = self.pages(state, ctx, banner)
        return ("END " if st.final else "CON ") + pages[page_at(pages, state.offset)].text

    def banner(self, ctx: Context, invalid: bool) -> str:
        """The one-line error or notice above the screen, translated; "" if none."""
        if invalid:
            return ctx.gettext(INVALID)
        return ctx.gettext(ctx.notice) if ctx.notice else ""

    def state(self, qualified: str) -> State:
        menu, _, name = qualified.partition(":")
        return self.menus[menu].by_name[name]


def _nav(st: State, gettext: Callable[[str], str]) -> str:
    if st.back is None:
        return ""
    return f"{BACK} {gettext(MSG_BACK)} {HOME} {gettext(MSG_HOME)}"


def _is_prefix(text: str, of: str) -> bool:
    return bool(of) and (text == "" or of.startswith(text + "*"))

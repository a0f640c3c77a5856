"""The USSD engine: turn one gateway callback into one screen.

Input becomes events here and only here: ``0`` back (or the previous page),
``00`` home, ``98`` more; any other input is an option or list item of the
current state, or an invalid choice that re-shows the screen with a one-line
error. Each menu's ``transitions`` machine is shared: the session's model is
added for the callback and removed after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from domain.subscribers import get_or_create_subscriber
from domain.translation import N_, gettext_for
from menus.context import Context, masked
from menus.menu import Menu, State
from menus.screen import Layout, Limits, Page, compose, fold_to_gsm7, page_at, paginate, size
from menus.session import KnownCaller, Loaded, SessionState, SessionStore

BACK, HOME, MORE = "0", "00", "98"

#: A caller types one input per callback; more than this many new inputs at once
#: is not a person typing (a shortcut dial has a few) and restarts at home.
MAX_INPUTS_PER_CALLBACK = 12
#: Compare-and-set attempts before answering the newest stored screen.
MAX_ATTEMPTS = 5

INVALID_INPUT, RESTART = "invalid", "restart"
FOREIGN_SESSION = "END Sorry, this session cannot be continued. Please dial again."
BUSY = "END Service busy, please try again in a few minutes."

INVALID = N_("Invalid choice.")
RESTARTED = N_("Session restarted.")
SIGNED_OUT = N_("Please sign in again.")
MSG_MORE = N_("More")
MSG_BACK = N_("Back")
MSG_HOME = N_("Home")


log = logging.getLogger(__name__)


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
        # As typed: a menu reads "01" as 1 (step), a typed answer keeps its zeros.
        inputs = caller.text.split("*") if caller.text else []
        saved: SessionState | None = None
        for _attempt in range(MAX_ATTEMPTS):
            loaded = store.load(caller.session_id, caller.msisdn)
            saved = loaded.state
            if saved is not None and saved.msisdn != caller.msisdn:
                log.warning("session %s reused by another number", caller.session_id)
                return FOREIGN_SESSION
            text = masked(caller.text, saved.secret) if saved is not None else caller.text
            if saved is not None and (text == saved.text or _is_prefix(text, saved.text)):
                return saved.answer  # a repeat, or a late copy of an earlier callback
            state, todo, notice, strict, known = self._resume(caller, loaded, inputs, db)
            if state.n + len(todo) < len(inputs):
                # Inputs dropped unread (a lost session, a history that changed) may
                # hold a PIN: keep none of them, only their count.
                state.secret = list(range(len(inputs)))
            ctx = self._context(caller, state, db, notice)
            error = self._run(state, ctx, todo, strict)
            if error == RESTART:  # nothing of the failed path sticks, its language neither
                state = self._at(self.home, state)
                state.secret = list(range(len(inputs)))  # inputs after the error went unread
                ctx.notice, error = RESTARTED, ""
                ctx.language, ctx.gettext = state.language, gettext_for(state.language)
                ctx.language_chosen = None
            ctx.run_deferred()
            if ctx.language_chosen:  # stored in the database: cache it too
                known = KnownCaller(state.subscriber_id, ctx.language_chosen)
            state.language = ctx.language
            state.n, state.text = len(inputs), masked(caller.text, state.secret)
            state.answer = self.render(state, ctx, invalid=bool(error))
            if store.save(caller.session_id, state, loaded.n, caller=known):
                return state.answer
        # Copies of this session's callbacks kept racing each other; the gateway
        # shows the newest stored screen, which is what the caller saw last.
        return saved.answer if saved is not None else BUSY

    def _resume(
        self, caller: Caller, loaded: Loaded, inputs: list[str], db: Session
    ) -> tuple[SessionState, list[str], str | None, bool, KnownCaller | None]:
        """The state to act from, the inputs still to act on, a notice, whether an
        invalid input should restart rather than re-show (a shortcut replay), and
        the caller to cache when the database was asked."""
        saved = loaded.state
        if saved is not None:
            todo = inputs[saved.n :]
            text = masked(caller.text, saved.secret)
            if (not saved.text or text.startswith(saved.text + "*")) and len(
                todo
            ) <= MAX_INPUTS_PER_CALLBACK:
                return saved, todo, None, False, None
            # The history changed, or jumped further than a caller can type between
            # two callbacks: start again at home rather than guess.
            fresh = self._fresh(saved.msisdn, saved.subscriber_id, saved.language, self.home)
            return fresh, [], RESTARTED, False, None
        known, to_cache = loaded.caller, None
        if known is None:  # first contact, or the cache expired
            subscriber_id, language = get_or_create_subscriber(db, caller.msisdn)
            db.commit()
            known = to_cache = KnownCaller(subscriber_id, language)
        language = known.language or self.default_language
        if not inputs:
            where = self.home if known.language else self.first_time
            fresh = self._fresh(caller.msisdn, known.subscriber_id, language, where)
            return fresh, [], None, False, to_cache
        fresh = self._fresh(caller.msisdn, known.subscriber_id, language, self.home)
        if loaded.state_may_be_lost or len(inputs) > MAX_INPUTS_PER_CALLBACK:
            return fresh, [], RESTARTED, False, to_cache
        return fresh, inputs, None, True, to_cache  # a shortcut dial: *384*1234*1*2#

    def _fresh(self, msisdn: str, subscriber_id: int, language: str, where: str) -> SessionState:
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
            history=caller.text,
            hop=state.n,
            notice=notice,
            secret=state.secret,
        )

    def _run(self, state: SessionState, ctx: Context, todo: list[str], strict: bool) -> str:
        """Apply each input in turn; return "", INVALID_INPUT or RESTART.

        In a shortcut replay (``strict``) the effects wait until every input has
        proved valid, so a path that ends in an error has done nothing.
        """
        error = ""
        if strict:
            ctx.deferred = []
        for key in todo:
            ctx.hop += 1
            if self.menus[state.menu].by_name[state.state].final:
                error = INVALID_INPUT
            else:
                error = "" if self.step(state, ctx, key) else INVALID_INPUT
            if error and strict:
                ctx.deferred = None  # drop the effects of a path that went wrong
                return RESTART
        return error

    # -- one input ----------------------------------------------------------------

    def step(self, state: SessionState, ctx: Context, key: str) -> bool:
        """Apply one input to ``state``; False when it is not a valid choice there."""
        menu = self.menus[state.menu]
        if menu.requires is not None and state.state not in menu.public and not menu.requires(ctx):
            # Signed out under the session (a cadre deactivated): back to the main menu.
            self._at(self.home, state)
            ctx.notice = SIGNED_OUT
            return True
        st = menu.by_name[state.state]
        if st.input is not None:
            return self._answer(state, ctx, st, key.strip())
        key = _normal_key(key)
        if key == HOME:
            return self._fire(state, ctx, "home")
        if key == BACK:
            pages = self.pages(state, ctx)
            shown = page_at(pages, state.offset)
            if shown > 0:
                state.offset, state.keys = pages[shown - 1].start, []
                return True
            return st.back is not None and self._fire(state, ctx, "back")
        if key == MORE:
            pages = self.pages(state, ctx)
            shown = page_at(pages, state.offset)
            if not pages[shown].last:
                state.offset, state.keys = pages[shown + 1].start, []
                return True
            return False
        if key not in self._keys_shown(state, ctx):
            return False  # only what the caller can see: a hidden option does nothing
        if st.option(key) is not None:
            return self._fire(state, ctx, "choose", key=key)
        if st.items is not None and key.isascii() and key.isdigit() and len(key) <= 4:
            items = st.items.load(ctx)
            if 1 <= int(key) <= len(items):
                return self._fire(state, ctx, "pick", item=items[int(key) - 1][0])
        return False

    def _answer(self, state: SessionState, ctx: Context, st: State, key: str) -> bool:
        """One input on a screen that takes typed text: back, more, home, or an answer."""
        inp = st.input
        assert inp is not None
        if inp.secret:
            state.secret.append(ctx.hop - 1)
        zero = inp.zero_answers is not None and inp.zero_answers(ctx)
        if key == (HOME if zero else BACK):
            pages = self.pages(state, ctx)
            shown = page_at(pages, state.offset)
            if shown > 0:
                state.offset = pages[shown - 1].start
                return True
            if inp.back is not None and inp.back(ctx):
                state.offset = 0
                return True
            return st.back is not None and self._fire(state, ctx, "back")
        if key == HOME:
            return self._fire(state, ctx, "home")
        if key == MORE:
            pages = self.pages(state, ctx)
            shown = page_at(pages, state.offset)
            if not pages[shown].last:
                state.offset = pages[shown + 1].start
                return True
        outcome = inp.accept(ctx, key)
        if outcome.error is not None:
            ctx.error = outcome.error
            return False
        if outcome.leave:
            return self._fire(state, ctx, "submit")
        state.offset, state.keys = 0, []
        return True

    def _keys_shown(self, state: SessionState, ctx: Context) -> list[str] | frozenset[str]:
        """The choices on the page the caller sees: kept from the last answer, or
        worked out when the state moved since (a shortcut, several inputs at once)."""
        if state.keys:
            return state.keys
        pages = self.pages(state, ctx)
        return pages[page_at(pages, state.offset)].keys

    def _fire(self, state: SessionState, ctx: Context, trigger: str, **kwargs: object) -> bool:
        menu = self.menus[state.menu]
        model = _Model()
        menu.machine.add_model(model, initial=state.state)
        try:
            moved = bool(model.trigger(trigger, ctx=ctx, **kwargs))  # type: ignore[attr-defined]
        finally:
            menu.machine.remove_model(model)
        if moved:
            self._at(menu.qualify(model.state), state)
        return moved

    def _at(self, qualified: str, state: SessionState) -> SessionState:
        state.menu, _, state.state = qualified.partition(":")
        state.offset, state.keys = 0, []
        return state

    # -- rendering ----------------------------------------------------------------

    def layout(self, state: SessionState, ctx: Context) -> Layout:
        st = self.menus[state.menu].by_name[state.state]
        _ = ctx.gettext
        title = st.title(ctx) if callable(st.title) else _(st.title)
        body = (st.body(ctx) if callable(st.body) else _(st.body)) if st.body else ""
        lines = [
            f"{opt.key} {opt.label(ctx) if callable(opt.label) else _(opt.label)}"
            for opt in st.shown(ctx)
        ]
        if st.lines is not None:
            lines += st.lines(ctx)
        if st.items is not None:
            items = st.items.load(ctx)
            lines += [f"{i} {label}" for i, (_id, label) in enumerate(items, 1)]
            if not items and st.empty:
                body = _(st.empty)
        nav_last = "" if st.final else _nav(st, _, self.menus[state.menu], self.home)
        back = BACK
        hints: tuple[str, ...] = ()
        if st.input is not None:
            # A typed answer's screen offers back only (00 still goes home): room
            # for the question. Where 0 is an answer, 00 steps back instead.
            if st.input.zero_answers is not None and st.input.zero_answers(ctx):
                back = HOME
            nav_last = f"{back} {_(MSG_BACK)}" if st.back is not None else ""
            hints = st.input.hints(ctx) if st.input.hints is not None else ()
        nav_more = f"{MORE} {_(MSG_MORE)}\n{back} {_(MSG_BACK)}"
        if st.input is None:
            reserve: tuple[str, ...] = (_(INVALID), _(RESTARTED))  # the order _banner reads
        else:  # a typed answer's errors are its own hints; a restart lands at home
            reserve = ("", "", *hints)
        layout = Layout(title, body, tuple(lines), nav_last, nav_more, reserve)
        return fold_to_gsm7(layout) if self.fold_to_gsm7 else layout

    def pages(self, state: SessionState, ctx: Context) -> tuple[Page, ...]:
        """The state's pages, in the caller's language; the same whether or not
        an error or notice is shown above them."""
        return self._paginate(state, self.layout(state, ctx))

    def _paginate(self, state: SessionState, layout: Layout) -> tuple[Page, ...]:
        return paginate(layout, self._prefix(state), self.limits)

    def _prefix(self, state: SessionState) -> str:
        return "END " if self.menus[state.menu].by_name[state.state].final else "CON "

    def render(self, state: SessionState, ctx: Context, *, invalid: bool = False) -> str:
        """The full answer for ``state``: prefix, header line, the page shown; notes
        in ``state.keys`` the choices that page offers.

        The header is the one-line error or notice when there is one (in the
        title's place), else the title on the first page.
        """
        layout = self.layout(state, ctx)
        pages = self._paginate(state, layout)
        shown = page_at(pages, state.offset)
        page = pages[shown]
        state.keys = sorted(page.keys)
        prefix = self._prefix(state)
        inp = self.menus[state.menu].by_name[state.state].input
        hints = inp.hints(ctx) if inp is not None and inp.hints is not None else ()
        header = _banner(layout, ctx, invalid, hints) or (layout.title if shown == 0 else "")
        if not header and page.text.partition(" ")[0] in page.keys:
            # A later page that starts with options: name the screen when there is room.
            titled = prefix + compose(layout.title, page)
            if size(titled).fits(self.limits):
                return titled
        return prefix + compose(header, page)


def _banner(layout: Layout, ctx: Context, invalid: bool, hints: tuple[str, ...] = ()) -> str:
    """The one-line error or notice above the screen; "" if none. The layout's
    reserve holds the error and the restart notice already translated (and folded
    to GSM-7 with the rest of the screen)."""
    if invalid and ctx.error:
        # The input's own hint, as the layout holds it (folded to GSM-7 with the screen).
        try:
            return layout.reserve[2 + hints.index(ctx.error)]
        except ValueError:
            return ctx.error
    if invalid:
        return layout.reserve[0]
    if ctx.notice == RESTARTED:
        return layout.reserve[1]
    return ctx.gettext(ctx.notice) if ctx.notice else ""


def _nav(st: State, gettext: Callable[[str], str], menu: Menu, home: str) -> str:
    if st.back is None:
        return ""
    if menu.qualify(st.back) == home:  # back is home: no need to offer both
        return f"{BACK} {gettext(MSG_BACK)}"
    return f"{BACK} {gettext(MSG_BACK)} {HOME} {gettext(MSG_HOME)}"


def _normal_key(key: str) -> str:
    """One input as typed: spaces trimmed, leading zeros dropped from a number
    ("01" is 1) except the reserved 0 and 00."""
    key = key.strip()
    if key.isascii() and key.isdigit() and key.startswith("0") and key.strip("0"):
        return key.lstrip("0")
    return key


def _is_prefix(text: str, of: str) -> bool:
    return bool(of) and (text == "" or of.startswith(text + "*"))

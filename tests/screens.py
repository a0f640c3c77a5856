"""Checks every page of a USSD screen, shared by the screen-fit tests."""

from __future__ import annotations

from menus.context import Context
from menus.engine import RESTARTED, Engine
from menus.screen import page_at, size
from menus.session import SessionState


def check_every_page(engine: Engine, state: SessionState, ctx: Context, where: object) -> int:
    """Render ``state`` with and without a notice above it and as the answer to an
    invalid input, every page of each; assert each answer starts ``CON``/``END``,
    fits the engine's limits and has no blank line. Returns how many were checked
    (``where`` names the case in a failure)."""
    checked = 0
    for notice in (None, RESTARTED):
        ctx.notice = notice
        for invalid in (False, True):
            state.offset = 0
            while True:
                answer = engine.render(state, ctx, invalid=invalid)
                assert answer.startswith(("CON ", "END ")), (where, answer)
                assert size(answer).fits(engine.limits), (where, answer)
                assert "\n\n" not in answer and not answer.endswith("\n"), (where, answer)
                checked += 1
                pages = engine.pages(state, ctx)
                shown = page_at(pages, state.offset)
                if pages[shown].last:
                    break
                state.offset = pages[shown + 1].start
    return checked

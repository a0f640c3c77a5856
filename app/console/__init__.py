"""``/console``: the operators' web console.

Every page of the blueprint needs a signed-in user except the sign-in page and
the static files: the guard in ``auth.py`` runs before each of its requests
(deny by default, so a page added later is protected without a decorator), and
checks the CSRF token of every unsafe request. Only this blueprint is
CSRF-protected: the gateway's callbacks (``/ussd``, ``/sms/…``) carry no token.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template
from flask.typing import ResponseReturnValue
from werkzeug.routing import IntegerConverter

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)


@bp.get("/")
def index() -> ResponseReturnValue:
    """The landing page: who is signed in, and what the console will hold."""
    from app.console.auth import current_console_user

    user = current_console_user()
    areas = [f"{a.parent.name}/{a.name}" if a.parent else a.name for a in user.areas]
    return render_template("console/index.html", user=user, areas=areas)


#: The largest id a 32-bit integer column holds.
MAX_ID = 2**31 - 1


def row_id(text: str | None) -> int | None:
    """``text`` as a row id: ASCII digits only ("²" is a digit to ``str.isdigit``
    but not to ``int``), from 1 to ``MAX_ID`` (a larger number overflows the
    column); None for anything else."""
    if not text or not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


class RowIdConverter(IntegerConverter):
    """``<id:name>`` in a route: a row id, 1 to ``MAX_ID`` (a larger number
    would overflow the column: 404, not a database error)."""

    def __init__(self, url_map: Any) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def init_app(app: Flask) -> None:
    from app.console import (  # noqa: F401 (routes)
        analytics,
        audit,
        auth,
        campaigns,
        content,
        households,
        jobs,
        market,
        queues,
    )

    auth.init_app(app)
    app.url_map.converters["id"] = RowIdConverter
    app.register_blueprint(bp)

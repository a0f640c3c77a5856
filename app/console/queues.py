"""``/console/queues``: the RQ queues, their workers and failed jobs.

Everyone signed in sees the page; admins and operators may requeue and delete
failed jobs (a supervisor gets 403). The actions are POSTs, so the console's
guard checks their CSRF token. Reading and acting go through
``workers.status`` (RQ's public API) on the app's Redis.

In the embedded default (no ``REDIS_URL``) there are no workers: jobs run
inline when enqueued, a failed one is kept among the failed, and **Requeue**
runs it again at once, in the request.
"""

from __future__ import annotations

import logging

from flask import (
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask.typing import ResponseReturnValue
from redis import RedisError

from app.console import bp
from app.console.auth import current_console_user
from app.redis_store import get_redis
from models import ConsoleRole
from workers import QUEUES, status

log = logging.getLogger("ngazi.console")

#: Who may requeue and delete failed jobs (a supervisor only watches).
ACTS = frozenset({ConsoleRole.ADMIN, ConsoleRole.OPERATOR})
FAILED_SHOWN = 50  # failed jobs listed per queue, most recent first


@bp.get("/queues")
def queues() -> ResponseReturnValue:
    """Per queue its counts and failed jobs; the workers; whether jobs run inline."""
    connection = get_redis()
    try:
        counts = status.all_counts(connection)
        workers = status.workers(connection)
        failed = {name: status.failed_jobs(connection, name, FAILED_SHOWN) for name in QUEUES}
    except RedisError:
        log.exception("console: Redis unavailable for the queues page")
        return _error(503, "Redis is unavailable", "The queues cannot be read. Try again shortly.")
    return render_template(
        "console/queues.html",
        counts=counts,
        workers=workers,
        failed=failed,
        inline=_inline(),
        may_act=current_console_user().role in ACTS,
        shown=FAILED_SHOWN,
    )


@bp.post("/queues/<name>/failed/<job_id>/requeue")
def requeue_failed(name: str, job_id: str) -> ResponseReturnValue:
    _require_act(name)
    if status.requeue(get_redis(), name, job_id, inline=_inline()):
        _audit("requeued", name, job_id)
        flash(f"Job {job_id} requeued{' and run' if _inline() else ''}.")
    else:
        flash(f"Job {job_id} is no longer among the failed jobs of {name}.")
    return redirect(url_for("console.queues"))


@bp.post("/queues/<name>/failed/<job_id>/delete")
def delete_failed(name: str, job_id: str) -> ResponseReturnValue:
    _require_act(name)
    if status.delete(get_redis(), name, job_id):
        _audit("deleted", name, job_id)
        flash(f"Job {job_id} deleted.")
    else:
        flash(f"Job {job_id} is no longer among the failed jobs of {name}.")
    return redirect(url_for("console.queues"))


@bp.post("/queues/<name>/failed/requeue-all")
def requeue_all_failed(name: str) -> ResponseReturnValue:
    _require_act(name)
    done = status.requeue_all(get_redis(), name, inline=_inline())
    _audit(f"requeued all ({done})", name, "*")
    flash(f"{done} failed job{'' if done == 1 else 's'} of {name} requeued.")
    return redirect(url_for("console.queues"))


def _inline() -> bool:
    """True in the embedded default: no Redis server, no workers, jobs run inline."""
    return not current_app.config["REDIS_URL"]


def _require_act(name: str) -> None:
    if current_console_user().role not in ACTS:
        abort(
            _error(
                403,
                "Not allowed",
                "Only administrators and operators may requeue or delete jobs.",
            )
        )
    if name not in QUEUES:
        abort(404)


def _audit(action: str, name: str, job_id: str) -> None:
    log.info(
        "console: %s %s failed job %s of %s",
        current_console_user().username,
        action,
        job_id,
        name,
    )


def _error(code: int, title: str, message: str) -> Response:
    page = render_template("console/error.html", title=title, message=message)
    return make_response(page, code)

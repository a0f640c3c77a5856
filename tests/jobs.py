"""Running the RQ jobs a test enqueued."""

from __future__ import annotations

from flask import Flask
from rq import SimpleWorker

from workers import QUEUES, set_worker_app


def run_jobs(app: Flask) -> None:
    """Work the queues to empty when jobs are real (``REDIS_URL`` set), in this
    process and this app's context, as ``flask worker`` would; inline (the
    embedded default) they already ran when enqueued."""
    if app.config["REDIS_URL"]:
        set_worker_app(app)
        SimpleWorker(list(QUEUES), connection=app.extensions["ngazi_redis"]).work(burst=True)

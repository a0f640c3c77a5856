"""``flask worker --queue``: a worker for some queues only (one systemd unit per queue)."""

from __future__ import annotations

import pytest
from flask import Flask
from rq import Queue


@pytest.mark.real_services
def test_a_worker_takes_only_its_queues(app: Flask) -> None:
    redis = app.extensions["ngazi_redis"]
    sms, campaigns = Queue("sms", connection=redis), Queue("campaigns", connection=redis)
    sms.enqueue("time.time")
    campaigns.enqueue("time.time")
    result = app.test_cli_runner().invoke(args=["worker", "--queue", "sms", "--burst"])
    assert result.exit_code == 0, result.output
    assert (sms.count, campaigns.count) == (0, 1)  # the campaigns' job waits for its worker
    bad = app.test_cli_runner().invoke(args=["worker", "--queue", "nope", "--burst"])
    assert bad.exit_code == 2 and "'nope' is not one of" in bad.output

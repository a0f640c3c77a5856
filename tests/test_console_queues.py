"""``/console/queues``: counts, workers and failed jobs; Requeue and Delete for
admins and operators only, behind the console's sign-in and CSRF check.

Jobs are made to fail for real: enqueued on an asynchronous queue on the app's
Redis (the real one with ``REDIS_URL``, else the in-process fakeredis) and run
by a ``SimpleWorker`` in burst mode.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.worker import WorkerStatus
from werkzeug.test import TestResponse

from models import ConsoleRole
from tests.test_console_auth import PASSWORD, csrf_token, login, make_user

#: Keys whose next ``flaky`` run fails; a job that failed once succeeds when run again.
_FAIL_ONCE: set[str] = set()


def flaky(key: str) -> str:
    """An RQ job that fails the first time it runs for ``key``."""
    if key not in _FAIL_ONCE:
        _FAIL_ONCE.add(key)
        raise RuntimeError(f"gateway unreachable for {key}")
    return f"done {key}"


def redis_of(app: Flask) -> Redis:
    return app.extensions["ngazi_redis"]  # type: ignore[no-any-return]


def fail_a_job(app: Flask, key: str, queue: str = "default") -> str:
    """Run ``flaky(key)`` once on ``queue`` so that it fails; return the job's id."""
    _FAIL_ONCE.discard(key)
    connection = redis_of(app)
    q = Queue(queue, connection=connection)  # asynchronous, whatever the app's mode
    job = q.enqueue(flaky, key)
    SimpleWorker([q], connection=connection).work(burst=True)
    assert job.id in FailedJobRegistry(queue, connection=connection)
    return job.id


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> FlaskClient:
    make_user(app, "achieng", role=ConsoleRole.ADMIN)
    assert login(client, "achieng", PASSWORD).status_code == 302
    return client


def page(client: FlaskClient) -> str:
    resp = client.get("/console/queues")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def counts_row(text: str, queue: str) -> list[int]:
    """Waiting, started, scheduled, deferred and failed of ``queue`` as shown."""
    row = re.search(rf'data-testid="queue-{queue}">(.*?)</tr>', text, re.S)
    assert row, text
    return [int(n) for n in re.findall(r"<td>(\d+)</td>", row.group(1))]


def post(client: FlaskClient, path: str, *, token: bool = True) -> TestResponse:
    data = {"csrf_token": csrf_token(page(client))} if token else {}
    return client.post(path, data=data)


def test_the_page_lists_a_failed_job_with_its_exception(app: Flask, admin: FlaskClient) -> None:
    job_id = fail_a_job(app, "a1")

    text = page(admin)

    assert counts_row(text, "default") == [0, 0, 0, 0, 1]
    assert counts_row(text, "sms") == [0, 0, 0, 0, 0]
    row = re.search(rf'data-testid="job-{job_id}">(.*?)</tr>', text, re.S)
    assert row, text
    cells = html.unescape(row.group(1))
    assert "test_console_queues.flaky<" in cells
    assert "RuntimeError: gateway unreachable for a1" in cells
    assert 'raise RuntimeError(f"gateway unreachable for {key}")' in cells  # the last lines
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td>", cells)  # enqueued, ended
    assert f'data-testid="requeue-{job_id}"' in text and f'data-testid="delete-{job_id}"' in text
    assert 'data-testid="requeue-all-default"' in text
    assert 'data-testid="requeue-all-sms"' not in text  # nothing failed there
    assert ('data-testid="inline-note"' in text) is (not app.config["REDIS_URL"])
    assert 'href="/console/queues"' in text  # the header's nav


def test_requeue_puts_the_job_back_and_it_runs(app: Flask, admin: FlaskClient) -> None:
    job_id = fail_a_job(app, "a2")
    connection = redis_of(app)

    resp = post(admin, f"/console/queues/default/failed/{job_id}/requeue")

    assert (resp.status_code, resp.location) == (302, "/console/queues")
    assert job_id not in FailedJobRegistry("default", connection=connection)
    if app.config["REDIS_URL"]:  # waiting for a worker
        assert Queue("default", connection=connection).job_ids == [job_id]
        SimpleWorker(["default"], connection=connection).work(burst=True)
        shown = f"Job {job_id} requeued."
    else:  # the embedded default ran it at once
        shown = f"Job {job_id} requeued and run."
    job = Job.fetch(job_id, connection=connection)
    assert (job.get_status(), job.return_value()) == (JobStatus.FINISHED, "done a2")
    text = page(admin)
    assert shown in text
    assert counts_row(text, "default") == [0, 0, 0, 0, 0]
    assert f'data-testid="job-{job_id}"' not in text


def test_delete_removes_the_job(app: Flask, admin: FlaskClient) -> None:
    job_id = fail_a_job(app, "a3")
    kept = fail_a_job(app, "a4")

    resp = post(admin, f"/console/queues/default/failed/{job_id}/delete")

    assert resp.status_code == 302
    connection = redis_of(app)
    with pytest.raises(NoSuchJobError):
        Job.fetch(job_id, connection=connection)
    assert FailedJobRegistry("default", connection=connection).get_job_ids() == [kept]
    text = page(admin)
    assert f"Job {job_id} deleted." in text
    assert counts_row(text, "default") == [0, 0, 0, 0, 1]


def test_requeue_all_failed_of_one_queue(app: Flask, admin: FlaskClient) -> None:
    first, second = fail_a_job(app, "b1", "sms"), fail_a_job(app, "b2", "sms")
    other = fail_a_job(app, "b3", "campaigns")

    post(admin, "/console/queues/sms/failed/requeue-all")

    connection = redis_of(app)
    assert FailedJobRegistry("sms", connection=connection).get_job_ids() == []
    assert FailedJobRegistry("campaigns", connection=connection).get_job_ids() == [other]
    if app.config["REDIS_URL"]:
        assert sorted(Queue("sms", connection=connection).job_ids) == sorted([first, second])
    else:
        assert Job.fetch(first, connection=connection).get_status() == JobStatus.FINISHED
    assert "2 failed jobs of sms requeued." in page(admin)


def test_an_operator_may_act(app: Flask, client: FlaskClient) -> None:
    make_user(app, "opiyo", role=ConsoleRole.OPERATOR)
    login(client, "opiyo", PASSWORD)
    job_id = fail_a_job(app, "c1")

    resp = post(client, f"/console/queues/default/failed/{job_id}/delete")

    assert resp.status_code == 302
    assert FailedJobRegistry("default", connection=redis_of(app)).get_job_ids() == []


def test_a_supervisor_sees_but_cannot_act(app: Flask, client: FlaskClient) -> None:
    make_user(app, "wafula", role=ConsoleRole.SUPERVISOR, areas=["Chwele"])
    login(client, "wafula", PASSWORD)
    job_id = fail_a_job(app, "c2")

    text = page(client)
    assert f'data-testid="job-{job_id}"' in text
    assert f'data-testid="requeue-{job_id}"' not in text
    assert 'data-testid="requeue-all-default"' not in text
    assert 'data-testid="read-only"' in text

    for action in (f"{job_id}/requeue", f"{job_id}/delete", "requeue-all"):
        resp = post(client, f"/console/queues/default/failed/{action}")
        assert resp.status_code == 403, action
        assert "Only administrators and operators" in resp.get_data(as_text=True)
    assert job_id in FailedJobRegistry("default", connection=redis_of(app))


def test_actions_need_the_csrf_token(app: Flask, admin: FlaskClient) -> None:
    job_id = fail_a_job(app, "c3")

    for action in (f"{job_id}/requeue", f"{job_id}/delete", "requeue-all"):
        resp = post(admin, f"/console/queues/default/failed/{action}", token=False)
        assert resp.status_code == 400, action
    forged = admin.post(
        f"/console/queues/default/failed/{job_id}/requeue", data={"csrf_token": "forged"}
    )
    assert forged.status_code == 400
    assert job_id in FailedJobRegistry("default", connection=redis_of(app))


def test_the_page_and_actions_need_a_signed_in_user(app: Flask, client: FlaskClient) -> None:
    job_id = fail_a_job(app, "c4")

    resp = client.get("/console/queues")
    assert (resp.status_code, resp.location) == (302, "/console/login?next=/console/queues")
    # Without a session there is no valid token either: the CSRF check answers first.
    assert client.post(f"/console/queues/default/failed/{job_id}/delete").status_code == 400
    assert job_id in FailedJobRegistry("default", connection=redis_of(app))


def test_unknown_queue_or_job(app: Flask, admin: FlaskClient) -> None:
    assert post(admin, "/console/queues/nope/failed/x/requeue").status_code == 404
    resp = post(admin, "/console/queues/default/failed/not-a-job/delete")
    assert resp.status_code == 302
    assert "Job not-a-job is no longer among the failed jobs of default." in page(admin)


@pytest.fixture
def a_worker(app: Flask) -> Iterator[Worker]:
    """A worker registered in Redis as ``flask worker`` would be (not working)."""
    worker = Worker(["sms", "default"], connection=redis_of(app), name="ngazi-test-worker")
    worker.register_birth()
    worker.set_state(WorkerStatus.IDLE)
    worker.heartbeat()
    yield worker
    worker.register_death()


def test_workers_are_listed(app: Flask, admin: FlaskClient, a_worker: Worker) -> None:
    text = page(admin)

    row = re.search(r'data-testid="workers">.*?<tbody>(.*?)</tbody>', text, re.S)
    assert row, text
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    assert cells[:4] == ["ngazi-test-worker", "idle", "sms, default", "—"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", cells[4])


def test_no_workers_is_said_plainly(app: Flask, admin: FlaskClient) -> None:
    text = page(admin)

    if app.config["REDIS_URL"]:
        assert "No worker is running" in text
    else:
        assert "No workers: in the embedded default jobs run inline." in text
        assert "jobs run inline, in the web process" in text

"""What the RQ queues hold, and the operator's actions on failed jobs.

Read through RQ's public API (``Queue``, its registries, ``Worker.all``,
``Job.fetch_many``) on the Redis connection given, for the queues named in
``workers.QUEUES``. Counts are read without RQ's registry cleanup
(``get_job_count(cleanup=False)``): looking at the queues changes nothing; the
workers' own maintenance cleans the registries every 10 minutes.

Every function may raise ``redis.RedisError`` when Redis is away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.results import Result

from workers import QUEUES

#: Lines of a failed job's traceback shown: the end, where the exception is.
EXCEPTION_LINES = 4


@dataclass(frozen=True)
class QueueCounts:
    """Jobs of one queue by state: waiting (``queued``, the queue's depth), being
    run (``started``), waiting for a time (``scheduled``), waiting for another job
    (``deferred``) and ``failed``."""

    name: str
    queued: int
    started: int
    scheduled: int
    deferred: int
    failed: int


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    state: str  # RQ's: "idle", "busy", "started", "suspended", …
    queues: tuple[str, ...]
    current_job: str | None
    last_heartbeat: datetime | None


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    function: str
    enqueued_at: datetime | None
    ended_at: datetime | None
    exception: str  # the traceback's last EXCEPTION_LINES lines; "" when RQ kept none


def counts(connection: Redis, name: str) -> QueueCounts:
    """One queue's job counts: one ``LLEN`` and four ``ZCARD``s."""
    q = Queue(name, connection=connection)
    return QueueCounts(
        name=name,
        queued=q.count,
        started=q.started_job_registry.get_job_count(cleanup=False),
        scheduled=q.scheduled_job_registry.get_job_count(cleanup=False),
        deferred=q.deferred_job_registry.get_job_count(cleanup=False),
        failed=q.failed_job_registry.get_job_count(cleanup=False),
    )


def all_counts(connection: Redis) -> list[QueueCounts]:
    """``counts`` of every queue in ``workers.QUEUES``, in priority order."""
    return [counts(connection, name) for name in QUEUES]


def workers(connection: Redis) -> list[WorkerInfo]:
    """The workers registered in this Redis (none in the embedded default), by name."""
    found = []
    for worker in Worker.all(connection=connection):
        found.append(
            WorkerInfo(
                name=worker.name,
                state=str(worker.get_state()),
                queues=tuple(worker.queue_names()),
                current_job=worker.get_current_job_id(),
                last_heartbeat=worker.last_heartbeat,
            )
        )
    return sorted(found, key=lambda w: w.name)


def failed_jobs(connection: Redis, name: str, limit: int = 50) -> list[FailedJob]:
    """Queue ``name``'s failed jobs, most recently failed first, at most ``limit``."""
    registry = FailedJobRegistry(name, connection=connection)
    ids = registry.get_job_ids(0, limit - 1, desc=True, cleanup=False)
    jobs = []
    for job_id, job in zip(ids, Job.fetch_many(ids, connection=connection), strict=True):
        if job is None:  # its hash expired or was deleted: nothing left to show or retry
            continue
        jobs.append(
            FailedJob(
                id=job_id,
                queue=name,
                function=_function(job),
                enqueued_at=job.enqueued_at,
                ended_at=job.ended_at,
                exception=_exception_tail(job),
            )
        )
    return jobs


def requeue(connection: Redis, name: str, job_id: str, *, inline: bool = False) -> bool:
    """Put failed job ``job_id`` of queue ``name`` back on its queue; False when
    it is not (or no longer) in that queue's failed jobs.

    ``inline`` (the embedded default, no workers): run it now, in this process,
    as every job is run there; if it fails again it is back among the failed.
    """
    registry = FailedJobRegistry(name, connection=connection)
    if job_id not in registry:
        return False
    try:
        if not inline:
            registry.requeue(job_id)
            return True
        job = Job.fetch(job_id, connection=connection)
        registry.remove(job)
    except (NoSuchJobError, InvalidJobOperation):  # gone meanwhile (another operator)
        return False
    Queue(name, connection=connection, is_async=False).enqueue_job(job)
    return True


def requeue_all(connection: Redis, name: str, *, inline: bool = False) -> int:
    """Requeue every failed job of queue ``name``; return how many were."""
    registry = FailedJobRegistry(name, connection=connection)
    ids = registry.get_job_ids(cleanup=False)
    return sum(requeue(connection, name, job_id, inline=inline) for job_id in ids)


def delete(connection: Redis, name: str, job_id: str) -> bool:
    """Delete failed job ``job_id`` of queue ``name`` (its hash, results and
    registry entry); False when it is not in that queue's failed jobs."""
    registry = FailedJobRegistry(name, connection=connection)
    if job_id not in registry:
        return False
    try:
        Job.fetch(job_id, connection=connection).delete()
    except NoSuchJobError:
        registry.remove(job_id)  # the hash expired: drop the dangling entry
    return True


def _function(job: Job) -> str:
    try:
        return job.func_name or "?"
    except Exception:  # a job whose data cannot be read (another serializer, a bad pickle)
        return "?"


def _exception_tail(job: Job) -> str:
    result = job.latest_result()
    if result is None or result.type != Result.Type.FAILED or not result.exc_string:
        return ""
    # Not the blank lines, nor the lines of carets (^^^) under the failing expression.
    lines = [line for line in result.exc_string.splitlines() if line.strip(" ^~")]
    return "\n".join(lines[-EXCEPTION_LINES:])

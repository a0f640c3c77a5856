"""Inbound SMS benchmark: ``python -m bench.inbound`` (part of ``make bench``).

Farmers' texts (the offers, unclear offers and chatter of
``tests/fixtures/sms/produce-offers.jsonl``: English, Kiswahili, French,
Chinese and mixes; no commands such as STOP or SOLD, which change what later
messages get) against real PostgreSQL and Redis, in two phases:

1. **Webhook.** Ngazi under gunicorn (``deploy/gunicorn.conf.py``) and no RQ
   worker. wrk (``bench/inbound.lua``) posts ``POST /sms/inbound`` as Africa's
   Talking does (form-encoded ``from``, ``to``, ``text``, ``date``, a unique
   ``id``, ``linkId``; a few thousand farmers, most sending several messages),
   closed loop, for ``BENCH_INBOUND_SECONDS``: messages accepted per second
   (HTTP 200 ``OK``: stored and enqueued), p50/p99 latency, errors. The
   ceiling: the same wrk load on ``POST /bench/hello`` (the same server, the same
   bodies, nothing stored), in the same run. Then the check that nothing was
   lost: ``inbound_sms`` rows and jobs on the RQ queue both equal the messages
   accepted (plus, at most, those still in flight when wrk stopped).
2. **Worker.** ``BENCH_INBOUND_WORKERS`` RQ workers (``flask worker``) drain the
   queue: each job claims a stored message, parses it, stores the offer and
   queues the reply, whose ``send_sms`` job lands on the ``sms`` queue, which
   workers take before the ``inbound`` one (the replies go to the mock gateway,
   ``app.gateways.mock_server``, in its own process; no real gateway is reached).
   Messages processed per second from the first claim to the last (the claims'
   ``processed_at``), with the replies sent meanwhile; how many became offers,
   unclear offers and help; CPU per message. The ceiling: ``offer_parser.parse``
   alone over the same stored texts on one core. Then the check: every message
   ``processed`` exactly once, with exactly one reply (``outbound_sms`` by its
   dedup key ``inbound:<gateway id>``), sent, the gateway saw each reply once,
   one offer per offer outcome, no failed job.

Targets (2 cores: load generator, server, workers, PostgreSQL and Redis on the
same two): the webhook accepts at least 500 messages/s; the workers process at
least 200 messages/s. It prints PASS/MISS and writes
``bench/results/inbound-<time>.json``. A missed target is a figure: it exits 0
then; it exits 1 only when a check fails (a message lost or processed twice, a
failed request).

Setup: it drops and re-creates the database ``ngazi_bench_inbound`` (the name
must contain "bench"), flushes Redis database 2, migrates and loads the demo
data; it drops the database and flushes Redis at the end, on every exit path.

Environment (defaults in brackets): ``BENCH_INBOUND_DATABASE_URL``
[postgresql+psycopg://postgres@127.0.0.1:5432/ngazi_bench_inbound];
``BENCH_INBOUND_REDIS_URL`` [redis://127.0.0.1:6379/2];
``BENCH_INBOUND_SECONDS`` [8] the webhook run and its ceiling;
``BENCH_INBOUND_CONNECTIONS`` [64]; ``BENCH_WRK_THREADS`` [2];
``BENCH_INBOUND_FARMERS`` [2000] per wrk thread; ``BENCH_INBOUND_WORKERS`` [2];
``BENCH_PORT``, ``GUNICORN_*`` as in bench.ussd. About 80 s in all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from bench.campaign import _cpu_seconds, _get, mock_gateway
from bench.offers import CORPUS, load, rate
from bench.ussd import (
    BIN,
    RESULTS,
    ROOT,
    Run,
    _env,
    _env_int,
    begin,
    configure_server,
    gunicorn,
    machine_cpu,
    pg_conninfo,
    prepare,
    run_wrk,
    say,
    services_cpu,
    services_ticks,
    verdict,
    write_results,
)
from workers import INBOUND

LUA = ROOT / "bench" / "inbound.lua"
TARGET_ACCEPTED = 500  # messages/s at the webhook, 2 cores
TARGET_PROCESSED = 200  # messages/s through the workers, 2 cores
KINDS = ("offer", "unclear", "unparseable")  # the corpus rows posted
DRAIN_TIMEOUT = 600  # seconds the workers may take before the run is called off


class InboundRun(Run):
    """A run of bench/inbound.lua: every answer was checked (200 ``OK``)."""

    @property
    def off_path(self) -> int:
        return 0

    @property
    def failures(self) -> int:
        return sum(self.errors.values()) + self.checked["bad"]

    @property
    def accepted_rate(self) -> float:
        return self.checked["accepted"] / self.seconds if self.seconds else 0.0


def corpus_texts() -> list[str]:
    return [r["text"] for r in load(CORPUS) if r["expect"]["kind"] in KINDS]


def write_texts(texts: list[str], path: Path) -> None:
    """One form-encoded text a line, for bench/inbound.lua."""
    path.write_text("".join(urllib.parse.quote(t, safe="") + "\n" for t in texts))


def _psql(db_url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(pg_conninfo(db_url)) as conn:
        return list(conn.execute(sql).fetchall())


def drop_database(db_url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(db_url)
    admin = u.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')


def queue_state(redis_url: str) -> dict[str, int]:
    """Jobs waiting on each Ngazi queue, and failed ones."""
    from rq import Queue

    from workers import QUEUES

    conn = redis.Redis.from_url(redis_url)
    out: dict[str, int] = {}
    for name in QUEUES:
        q = Queue(name, connection=conn)
        out[name] = q.count
        out[f"{name}_failed"] = q.failed_job_registry.count
        out[f"{name}_started"] = q.started_job_registry.count
    conn.close()
    return out


# -- phase 1: the webhook --------------------------------------------------------------


def webhook(
    base: str, master: int, texts: Path, *, seconds: int, connections: int, threads: int
) -> dict[str, InboundRun]:
    """A short warm-up, the ceiling, then the measured run (wrk tags 1, 2, 3)."""
    farmers = _env_int("BENCH_INBOUND_FARMERS", 2000)

    def one(name: str, mode: str, tag: int, secs: int) -> InboundRun:
        run = run_wrk(
            name,
            base,
            mode=mode,
            seconds=secs,
            connections=connections,
            threads=threads,
            ring=farmers * threads,
            tag=tag,
            master=master,
            script=LUA,
            env_extra={
                "INBOUND_TEXTS": str(texts),
                "INBOUND_FIRST": str(connections // max(1, threads)),
            },
            cls=InboundRun,
        )
        assert isinstance(run, InboundRun)
        return run

    say("  warm-up, POST /sms/inbound (stored too; not measured)")
    warm = one("warm-up", "sms", 1, 2)
    say(f"  ceiling, POST /bench/hello, {seconds} s")
    hello = one("hello", "hello", 2, seconds)
    say(f"  webhook, POST /sms/inbound, {seconds} s")
    sms = one("sms", "sms", 3, seconds)
    return {"warm": warm, "hello": hello, "sms": sms}


def check_stored(db_url: str, redis_url: str, runs: list[InboundRun]) -> dict[str, Any]:
    """Rows and jobs against what wrk saw: ``accepted`` <= rows <= ``sent`` - bad
    (a request in flight when wrk stopped may or may not have been stored), and
    one job on the ``inbound`` queue per row (no worker ran)."""
    accepted = sum(r.checked["accepted"] for r in runs)
    bound = sum(r.checked["sent"] - r.checked["bad"] for r in runs)
    [(rows, ids)] = _psql(db_url, "SELECT count(*), count(DISTINCT gateway_id) FROM inbound_sms")
    jobs = queue_state(redis_url)
    ok = accepted <= rows <= bound and ids == rows and jobs[INBOUND] == rows
    say(
        f"check: {accepted} accepted (+ at most {bound - accepted} in flight at the end),"
        f" {rows} rows ({ids} gateway ids), {jobs[INBOUND]} jobs queued: {'OK' if ok else 'FAILED'}"
    )
    return {"accepted": accepted, "in_flight_bound": bound, "rows": rows, "jobs": jobs, "ok": ok}


# -- phase 2: the workers --------------------------------------------------------------


def keep_first(redis_url: str, cap: int) -> int:
    """Leave only the first ``cap`` jobs on the ``inbound`` queue (the rest of the
    messages stay ``received``), so a fast webhook cannot make the run long;
    returns how many jobs were dropped."""
    from rq import Queue

    conn = redis.Redis.from_url(redis_url)
    q = Queue(INBOUND, connection=conn)
    extra = max(0, q.count - cap)
    if extra:
        conn.ltrim(q.key, 0, cap - 1)
    conn.close()
    return extra


def _progress(db_url: str) -> tuple[int, int, int]:
    """(messages processed, failed, replies sent)."""
    [row] = _psql(
        db_url,
        "SELECT (SELECT count(*) FROM inbound_sms WHERE status = 'processed'),"
        " (SELECT count(*) FROM inbound_sms WHERE status = 'failed'),"
        " (SELECT count(*) FROM outbound_sms WHERE status = 'sent')",
    )
    return int(row[0]), int(row[1]), int(row[2])


def _cpu_mark(workers: list[int], mock: int) -> dict[str, float]:
    busy, whole = machine_cpu()
    return {
        "t": time.perf_counter(),
        "workers": sum(_cpu_seconds(w) for w in workers),
        "mock": _cpu_seconds(mock),
        "busy": busy,
        "machine": whole,
    }


def drain(db_url: str, total: int, n_workers: int, send_seconds: float) -> dict[str, Any]:
    """Start the workers (replies to the mock gateway); wait until ``total``
    messages are processed, let them send replies ``send_seconds`` more, stop
    them. CPU is marked when the first message is seen processed and when all
    are (``services``: PostgreSQL and Redis from the launch to then)."""
    with mock_gateway() as (base, mock_pid):
        env = {
            **os.environ,
            "AT_USERNAME": "bench",
            "AT_API_KEY": "bench",
            "AT_SMS_BASE_URL": base,
        }
        logs = [open(RESULTS / f"inbound-worker{i}.log", "w") for i in range(n_workers)]  # noqa: SIM115
        workers = [
            subprocess.Popen(
                [str(BIN / "flask"), "--app", "app", "worker"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            for log in logs
        ]
        pids = [w.pid for w in workers]
        out: dict[str, Any] = {"launched": _cpu_mark(pids, mock_pid), "first_done": 0}
        svc0 = services_ticks()
        try:
            while True:
                done, failed, sent = _progress(db_url)
                if done and "first" not in out:
                    out["first"], out["first_done"] = _cpu_mark(pids, mock_pid), done
                if done + failed >= total:
                    out["processed"] = _cpu_mark(pids, mock_pid)
                    out["services"] = services_cpu(svc0)
                    out["sent_at_processed"] = sent
                    break
                if any(w.poll() is not None for w in workers):
                    raise SystemExit("a worker exited: see bench/results/inbound-worker*.log")
                if time.perf_counter() - out["launched"]["t"] > DRAIN_TIMEOUT:
                    raise SystemExit(f"{done} of {total} processed after {DRAIN_TIMEOUT} s")
                time.sleep(0.25)
            time.sleep(send_seconds)
            out["sent"] = _progress(db_url)[2] - out["sent_at_processed"]
            out["send_seconds"] = time.perf_counter() - out["processed"]["t"]
        finally:
            for w in workers:  # SIGTERM: RQ's warm shutdown finishes the job at hand
                w.terminate()
            for w in workers:
                try:
                    w.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    w.kill()
                    w.wait()
            for log in logs:
                log.close()
        out["gateway"] = _get(base.replace("/version1", "/mock/stats"))
    return out


def check_processed(db_url: str, redis_url: str, rows: int, dropped: int) -> dict[str, Any]:
    """Every message whose job ran is ``processed`` once, with exactly one reply
    (its dedup key); the messages whose jobs were dropped are still ``received``;
    one offer per ``offer`` outcome; no job failed."""
    outcomes = dict(_psql(db_url, "SELECT outcome, count(*) FROM inbound_sms GROUP BY outcome"))
    statuses = dict(_psql(db_url, "SELECT status, count(*) FROM inbound_sms GROUP BY status"))
    [(replied, missing, others, offers, offered)] = _psql(
        db_url,
        "SELECT"
        " (SELECT count(*) FROM inbound_sms i JOIN outbound_sms o"
        "    ON o.dedup_key = 'inbound:' || i.gateway_id),"
        " (SELECT count(*) FROM inbound_sms i WHERE status = 'processed' AND NOT EXISTS"
        "    (SELECT 1 FROM outbound_sms o WHERE o.dedup_key = 'inbound:' || i.gateway_id)),"
        " (SELECT count(*) FROM outbound_sms WHERE dedup_key IS NULL"
        "    OR dedup_key NOT LIKE 'inbound:%'),"
        " (SELECT count(*) FROM produce_offer),"
        " (SELECT count(DISTINCT inbound_id) FROM produce_offer)",
    )
    failed_jobs = sum(v for k, v in queue_state(redis_url).items() if k.endswith("_failed"))
    processed = statuses.get("processed", 0)
    ok = (
        processed == rows - dropped
        and statuses.get("received", 0) == dropped
        and replied == processed
        and missing == 0
        and others == 0
        and offers == offered == outcomes.get("offer", 0)
        and failed_jobs == 0
    )
    say(
        f"check: messages {statuses}; {replied} replies ({missing} missing, {others} others);"
        f" {offers} offers from {offered} messages; failed jobs {failed_jobs}:"
        f" {'OK' if ok else 'FAILED'}"
    )
    return {
        "outcomes": {str(k): v for k, v in outcomes.items()},
        "statuses": statuses,
        "replies": replied,
        "missing_replies": missing,
        "other_outbound": others,
        "offers": offers,
        "failed_jobs": failed_jobs,
        "ok": ok,
    }


def spans(db_url: str) -> tuple[float, int]:
    """Seconds from the first claim to the last (``processed_at``), and how many."""
    [(seconds, n)] = _psql(
        db_url,
        "SELECT extract(epoch FROM max(processed_at) - min(processed_at)), count(processed_at)"
        " FROM inbound_sms",
    )
    return float(seconds or 0), int(n)


def parser_ceiling(db_url: str) -> tuple[float, int]:
    """``offer_parser.parse`` over the stored texts on one core: best messages/s of
    three runs of about a second each; and how many texts."""
    texts = [str(t) for (t,) in _psql(db_url, "SELECT text FROM inbound_sms ORDER BY id")]
    mask = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        if mask:
            os.sched_setaffinity(0, {min(mask)})
        best, _ = rate(texts, 1.0)
    finally:
        if mask:
            os.sched_setaffinity(0, mask)
    return best, len(texts)


# -- the benchmark ---------------------------------------------------------------------


def main() -> int:
    settings = begin()
    db_url = _env(
        "BENCH_INBOUND_DATABASE_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/ngazi_bench_inbound",
    )
    redis_url = _env("BENCH_INBOUND_REDIS_URL", "redis://127.0.0.1:6379/2")
    seconds = _env_int("BENCH_INBOUND_SECONDS", 8)
    connections = _env_int("BENCH_INBOUND_CONNECTIONS", 64)
    threads = _env_int("BENCH_WRK_THREADS", 2)
    n_workers = _env_int("BENCH_INBOUND_WORKERS", 2)
    cap = _env_int("BENCH_INBOUND_PROCESS", 6000)
    send_seconds = float(_env("BENCH_INBOUND_SEND_SECONDS", "5"))
    # Its farmers text far faster than people do: no per-number limit here.
    server = configure_server(db_url, redis_url, settings.port, SMS_MSISDN_LIMIT="0")
    cores = os.cpu_count() or 1
    started = datetime.now(UTC)
    stamp = f"{started:%Y%m%dT%H%M%S}"
    say(f"== inbound SMS: webhook, then {n_workers} RQ workers; {cores} cores, {server} ==")
    RESULTS.mkdir(parents=True, exist_ok=True)
    texts = RESULTS / f"inbound-texts-{stamp}.txt"
    log_path = RESULTS / f"gunicorn-inbound-{stamp}.log"
    t0 = time.perf_counter()
    try:
        prepare(db_url, redis_url)
        corpus = corpus_texts()
        write_texts(corpus, texts)
        say(f"webhook: {len(corpus)} texts, {connections} connections, no worker running")
        with gunicorn(settings.base, log_path) as proc:
            runs = webhook(
                settings.base,
                proc.pid,
                texts,
                seconds=seconds,
                connections=connections,
                threads=threads,
            )
        stored = check_stored(db_url, redis_url, [runs["warm"], runs["sms"]])
        dropped = keep_first(redis_url, cap)
        rows = stored["rows"]
        cut = f" (the last {dropped} messages' jobs dropped: BENCH_INBOUND_PROCESS)"
        say(
            f"workers: {n_workers} x flask worker, {rows - dropped} messages"
            f"{cut if dropped else ''}, then replies for {send_seconds:.0f} s"
        )
        drained = drain(db_url, rows - dropped, n_workers, send_seconds)
        checked = check_processed(db_url, redis_url, rows, dropped)
        span = spans(db_url)
        parser = parser_ceiling(db_url)
    finally:
        texts.unlink(missing_ok=True)
        drop_database(db_url)
        redis.Redis.from_url(redis_url).flushdb()
    doc = report(runs, drained, checked, span, parser, time.perf_counter() - t0)
    doc["stored"] = stored
    write_results("inbound", doc, started=started, cores=cores, server=server, log_path=log_path)
    return 0 if stored["ok"] and checked["ok"] and not doc["failures"] else 1


def _webhook_report(hello: InboundRun, sms: InboundRun) -> dict[str, Any]:
    accepted = sms.accepted_rate
    ratio = accepted / hello.rate if hello.rate else 0.0
    say(f"Webhook ({sms.connections} connections, closed loop, {sms.seconds:.1f} s, no worker):")
    say(
        f"  ceiling  POST /bench/hello  {hello.rate:6.0f} req/s       p50 {hello.ms('p50'):5.1f}"
        f" ms  p99 {hello.ms('p99'):6.1f} ms"
    )
    say(
        f"  webhook  POST /sms/inbound  {accepted:6.0f} accepted/s  p50 {sms.ms('p50'):5.1f}"
        f" ms  p99 {sms.ms('p99'):6.1f} ms  failed {sms.failures}"
    )
    say(
        f"  ratio {ratio:.2f} of the ceiling; target >= {TARGET_ACCEPTED} accepted/s:"
        f" {verdict(accepted >= TARGET_ACCEPTED)}"
    )

    def per(r: InboundRun, cpu: float) -> float:
        return 1000 * cpu / r.requests if r.requests else 0.0

    cpu = {
        "gunicorn_ms": per(sms, sms.server_cpu),
        "ceiling_gunicorn_ms": per(hello, hello.server_cpu),
        "postgres_ms": per(sms, sms.services_cpu["postgres"]),
        "redis_ms": per(sms, sms.services_cpu["redis"]),
        "wrk_ms": per(sms, sms.wrk_cpu),
        "busy": sms.busy,
    }
    say(
        f"  CPU per message: gunicorn {cpu['gunicorn_ms']:.2f} ms (per ceiling request"
        f" {cpu['ceiling_gunicorn_ms']:.2f}), PostgreSQL {cpu['postgres_ms']:.2f}, Redis"
        f" {cpu['redis_ms']:.2f}, wrk {cpu['wrk_ms']:.2f}; machine busy {cpu['busy']:.0%}"
    )
    noisy = [r.name for r in (hello, sms) if r.other_cpu > 0.1 * r.machine_total]
    if noisy:
        say(
            f"  NOISY: other processes took over 10% of the machine during {', '.join(noisy)}"
            f" ({', '.join(f'{r.other_cpu / r.seconds:.0%} of a core' for r in (hello, sms))})"
        )
    return {
        "noisy": noisy,
        "ceiling_rps": hello.rate,
        "accepted_per_s": accepted,
        "ratio": ratio,
        "p50_ms": sms.ms("p50"),
        "p99_ms": sms.ms("p99"),
        "cpu": cpu,
    }


def report(
    runs: dict[str, InboundRun],
    drained: dict[str, Any],
    checked: dict[str, Any],
    span: tuple[float, int],
    parser: tuple[float, int],
    elapsed: float,
) -> dict[str, Any]:
    say("=" * 78)
    web = _webhook_report(runs["hello"], runs["sms"])
    seconds, n = span
    rate_ = n / seconds if seconds else 0.0
    say(f"Workers ({n} messages, stored by the webhook runs, the warm-up's included):")
    wall = drained["processed"]["t"] - drained["launched"]["t"]
    say(
        f"  processed {n} in {seconds:.1f} s from the first claim to the last = {rate_:.0f}"
        f" messages/s; target >= {TARGET_PROCESSED}: {verdict(rate_ >= TARGET_PROCESSED)}"
    )
    say(f"  ({wall:.1f} s from launching the workers, their start-up included)")
    outcomes = checked["outcomes"]
    say("  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    cpu: dict[str, float] = {}
    if "first" in drained:
        a, b = drained["first"], drained["processed"]
        k = max(1, n - drained["first_done"])
        svc = drained["services"]
        workers = b["workers"] - a["workers"]
        busy = b["busy"] - a["busy"]
        # PostgreSQL and Redis are counted from the launch, the rest from the first claim
        other = busy - workers - (b["mock"] - a["mock"]) - svc["postgres"] - svc["redis"]
        cpu = {
            "workers_ms": 1000 * workers / k,
            "postgres_ms": 1000 * svc["postgres"] / n,
            "redis_ms": 1000 * svc["redis"] / n,
            "machine_busy_ms": 1000 * busy / k,
            "busy": busy / max(1e-9, b["machine"] - a["machine"]),
            "other_share": other / max(1e-9, b["machine"] - a["machine"]),
        }
        say(
            f"  CPU per message: workers {cpu['workers_ms']:.2f} ms, PostgreSQL"
            f" {cpu['postgres_ms']:.2f}, Redis {cpu['redis_ms']:.2f}; the machine"
            f" {cpu['machine_busy_ms']:.2f} ms in all, busy {cpu['busy']:.0%}"
        )
        if cpu["other_share"] > 0.1:
            say(
                f"  NOISY: other processes took {cpu['other_share']:.0%} of the machine while"
                " the workers ran; run again on a quiet machine before trusting these figures"
            )
    best, texts = parser
    ratio = rate_ / best if best else 0.0
    say(
        f"  ceiling: offer_parser.parse alone on one core over the same {texts} texts:"
        f" {best:,.0f} messages/s; ratio {ratio:.3f}"
    )
    if cpu and best:
        say(
            f"  parsing is {1e6 / best:.0f} µs of a message's {1000 * cpu['workers_ms']:.0f} µs"
            f" of worker CPU ({1000 / best / cpu['workers_ms']:.1%})"
        )
    sends = drained["sent"] / drained["send_seconds"] if drained["send_seconds"] else 0.0
    say(
        f"  replies: {drained['sent_at_processed']} of {n} sent to the mock gateway by the time"
        f" the last message was processed (their send_sms jobs go on 'sms', which workers take"
        f" before 'inbound'); {drained['sent']} more in the {drained['send_seconds']:.1f} s after"
    )
    failures = sum(r.failures for r in runs.values())
    say(f"failed requests {failures}; {elapsed:.0f} s in all")
    say("=" * 78)
    return {
        "webhook": web,
        "processed": n,
        "processed_per_s": rate_,
        "claims_seconds": seconds,
        "worker_start_to_done_s": wall,
        "cpu_per_message": cpu,
        "parser_per_s": best,
        "parser_ratio": ratio,
        "replies_per_s": sends,
        "checks": checked,
        "gateway": drained["gateway"],
        "failures": failures,
        "seconds": elapsed,
        "runs": [r.__dict__ for r in runs.values()],
    }


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)

"""Campaign fan-out benchmark: ``python -m bench.campaign`` (part of ``make bench``).

A campaign to ``BENCH_RECIPIENTS`` (1,000,000) synthetic subscribers in four
languages and every demo village, sent by two RQ workers (``flask worker``)
against real PostgreSQL and Redis and the mock gateway
(``app.gateways.mock_server``, in its own process):

1. the ceiling: the same batches (``SMS_BATCH_SIZE`` numbers per request) posted
   straight to the mock gateway by two processes, recipients per second;
2. the campaign end to end, from ``flask campaign send`` to the campaign marked
   done: recipients per second, each worker's peak memory (PSS of the worker and
   its child processes; its own peak RSS too) and its memory a quarter of the way
   and at the end (flat or growing); CPU per recipient of each process;
3. checks: every recipient has exactly one accepted send (the gateway's count
   of repeated (number, text) pairs is zero) and one ``sent`` row.

Targets: at least 10,000 recipients per second end to end; worker memory under
200 MB. It exits 1 when a check fails, not when a target is missed.

Environment: ``BENCH_DATABASE_URL``, ``BENCH_REDIS_URL`` as in bench.ussd;
``BENCH_RECIPIENTS`` [1000000]; ``BENCH_SMS_BATCH_SIZE`` [1000];
``BENCH_SMS_RATE`` [100000] (the throttle stays in the path);
``BENCH_WORKERS`` [2]. A quick run: ``BENCH_RECIPIENTS=100000``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.ussd import (
    BIN,
    CLK_TCK,
    RESULTS,
    ROOT,
    _env,
    _env_int,
    _proc_stat,
    flask,
    free_port,
    machine_cpu,
    pg_conninfo,
    prepare,
    say,
    services_cpu,
    services_ticks,
    verdict,
)

TARGET_RATE = 10_000
TARGET_RSS_MB = 200
TEXTS = {
    "en": "Ngazi: free maize seed for households in {village} this week. Bring your ID.",
    "sw": "Ngazi: mbegu za mahindi bure kwa kaya za {village} wiki hii. Leta kitambulisho.",
    "fr": "Ngazi : semences de maïs gratuites pour les ménages de {village}. Apportez votre carte.",
    "zh": "Ngazi：本周{village}的家庭可免费领取玉米种子。请携带身份证。",
}


def add_population(db_url: str, n: int) -> int:
    """``n`` subscribers spread over the demo villages and the four languages, one
    in 200 opted out; returns how many the campaign reaches."""
    import psycopg

    with psycopg.connect(pg_conninfo(db_url), autocommit=True) as conn:
        villages = [r[0] for r in conn.execute("SELECT id FROM area WHERE level = 'village'")]
        conn.execute(
            """
            INSERT INTO subscriber (msisdn, language, opted_out, first_seen, pin_failures, area_id)
            SELECT '+2547' || lpad(g::text, 8, '0'),
                   (ARRAY['en', 'sw', 'fr', 'zh'])[1 + g %% 4],
                   g %% 200 = 0, now(), 0,
                   (%(villages)s::int[])[1 + g %% %(nv)s]
            FROM generate_series(1, %(n)s) AS g
            """,
            {"villages": villages, "nv": len(villages), "n": n},
        )
        conn.execute("ANALYZE subscriber")
        row = conn.execute("SELECT count(*) FROM subscriber WHERE NOT opted_out").fetchone()
    assert row is not None
    return int(row[0])


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def _post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10)


@contextmanager
def mock_gateway() -> Iterator[tuple[str, int]]:
    """The mock gateway in its own process; yields its base URL and pid."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.gateways.mock_server", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/version1"
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # the base URL, once it listens
        yield base, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def _post_batches(base: str, numbers: list[str], size: int, out: Any) -> None:
    import requests

    session = requests.Session()
    sent = 0
    for i in range(0, len(numbers), size):
        chunk = numbers[i : i + size]
        resp = session.post(
            f"{base}/messaging",
            data={"username": "bench", "to": ",".join(chunk), "message": TEXTS["en"]},
            headers={"apiKey": "bench", "Accept": "application/json"},
            timeout=30,
        )
        resp.raise_for_status()
        sent += len(resp.json()["SMSMessageData"]["Recipients"])
    out.put(sent)


def ceiling(base: str, n: int, size: int, workers: int) -> float:
    """Recipients per second posting ``n`` numbers in ``size`` batches straight to
    the mock gateway from ``workers`` processes."""
    import multiprocessing as mp

    numbers = [f"+2547{g:08d}" for g in range(1, n + 1)]
    share = -(-n // workers)
    out: Any = mp.Queue()
    procs = [
        mp.Process(
            target=_post_batches, args=(base, numbers[i * share : (i + 1) * share], size, out)
        )
        for i in range(workers)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    assert total == n, (total, n)
    return n / elapsed


@dataclass
class Memory:
    """Memory samples of one worker's process tree: the worker and its largest
    child (RQ's scheduler, or the work horse it forks per job with ``--fork``).
    PSS (proportional set size): pages a child shares with the worker after the
    fork count half to each, so the sum is what the pair really holds (their
    RSS would count the shared pages twice)."""

    pid: int
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (t, worker kB, horse kB)

    def sample(self, t: float) -> None:
        horses = max((_pss_kb(c) for c in _children(self.pid)), default=0)
        self.samples.append((t, _pss_kb(self.pid), horses))

    def peak_rss_mb(self) -> float:
        """The worker's own peak RSS (VmHWM), shared pages included."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def peak_mb(self) -> float:
        return max((w + h for _, w, h in self.samples), default=0) / 1024

    def at_mb(self, fraction: float) -> float:
        if not self.samples:
            return 0.0
        i = min(len(self.samples) - 1, int(fraction * len(self.samples)))
        return (self.samples[i][1] + self.samples[i][2]) / 1024


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its reaped children (the work horses)."""
    st = _proc_stat(pid)
    return sum(st[2]) / CLK_TCK if st else 0.0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return out


def _campaign_state(db_url: str, campaign_id: int) -> tuple[str, dict[str, int]]:
    import psycopg

    with psycopg.connect(pg_conninfo(db_url)) as conn:
        row = conn.execute("SELECT status FROM campaign WHERE id = %s", (campaign_id,)).fetchone()
        assert row is not None
        counts = dict(
            conn.execute(
                "SELECT status, count(*) FROM outbound_sms WHERE campaign_id = %s GROUP BY status",
                (campaign_id,),
            ).fetchall()
        )
    return str(row[0]), {str(k): int(v) for k, v in counts.items()}


def main() -> int:
    db_url = _env("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ngazi_bench")
    redis_url = _env("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
    n = _env_int("BENCH_RECIPIENTS", 1_000_000)
    size = _env_int("BENCH_SMS_BATCH_SIZE", 1000)
    rate = _env_int("BENCH_SMS_RATE", 100_000)
    n_workers = _env_int("BENCH_WORKERS", 2)
    started_at = datetime.now(UTC)
    os.environ.update({"DATABASE_URL": db_url, "REDIS_URL": redis_url})
    say(f"== campaign fan-out: {n:,} subscribers, {n_workers} RQ workers, batches of {size} ==")
    prepare(db_url, redis_url)
    t0 = time.perf_counter()
    reach = add_population(db_url, n)
    say(f"population: {n:,} subscribers ({reach:,} reachable) in {time.perf_counter() - t0:.1f} s")

    with mock_gateway() as (base, mock_pid):
        limit = ceiling(base, reach, size, n_workers)
        say(f"ceiling: the same batches straight to the mock gateway: {limit:,.0f} recipients/s")
        _post(base.replace("/version1", "/mock/reset"))
        env = {
            **os.environ,
            "AT_USERNAME": "bench",
            "AT_API_KEY": "bench",
            "AT_SMS_BASE_URL": base,
            "SMS_BATCH_SIZE": str(size),
            "SMS_RATE": str(rate),
            "AT_SMS_TIMEOUT": "60",
        }
        os.environ.update(env)
        texts = [f"--text={lang}={text}" for lang, text in TEXTS.items()]
        out = subprocess.run(
            [
                str(BIN / "flask"),
                "--app",
                "app",
                "campaign",
                "create",
                "bench",
                *texts,
                "--quiet",
                "none",
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        campaign_id = int(out.split()[1].rstrip(":"))
        say(out.strip().splitlines()[1])
        workers = [
            subprocess.Popen(
                [str(BIN / "flask"), "--app", "app", "worker"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(RESULTS / f"campaign-worker{i}.log", "w"),  # noqa: SIM115
            )
            for i in range(n_workers)
        ]
        memory = [Memory(w.pid) for w in workers]
        stop = threading.Event()

        def watch() -> None:
            begun = time.perf_counter()
            while not stop.is_set():
                for m in memory:
                    m.sample(time.perf_counter() - begun)
                time.sleep(0.2)

        watcher = threading.Thread(target=watch, daemon=True)
        try:
            time.sleep(2)  # the workers are up
            watcher.start()
            services_before = services_ticks()
            busy_before, total_before = machine_cpu()
            mock_before = _cpu_seconds(mock_pid)
            t_send = time.perf_counter()
            flask(["campaign", "send", str(campaign_id)])
            status, counts = "sending", {}
            while time.perf_counter() - t_send < 3600:
                status, counts = _campaign_state(db_url, campaign_id)
                if status in ("done", "paused", "cancelled"):
                    break
                time.sleep(0.5)
            elapsed = time.perf_counter() - t_send
            busy_after, total_after = machine_cpu()
            cpu = {
                "workers": sum(_cpu_seconds(w.pid) for w in workers),
                "mock gateway": _cpu_seconds(mock_pid) - mock_before,
                **services_cpu(services_before),
                "machine busy": busy_after - busy_before,
                "machine": total_after - total_before,
            }
            peak_rss = [m.peak_rss_mb() for m in memory]
        finally:
            stop.set()
            for w in workers:
                w.send_signal(signal.SIGTERM)
            for w in workers:
                try:
                    w.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    w.kill()
        stats = _get(base.replace("/version1", "/mock/stats"))

    e2e = reach / elapsed
    say(
        f"end to end: {reach:,} recipients in {elapsed:.1f} s = {e2e:,.0f} recipients/s "
        f"({e2e / limit:.2f} of the ceiling); target {TARGET_RATE:,}: "
        f"{verdict(e2e >= TARGET_RATE)}"
    )
    for i, m in enumerate(memory):
        say(
            f"worker {i}: peak {m.peak_mb():.0f} MB PSS (the worker and its child processes), "
            f"{m.at_mb(0.25):.0f} MB a quarter of the way, {m.at_mb(0.99):.0f} MB at the end; "
            f"the worker's own peak RSS {peak_rss[i]:.0f} MB "
            f"— target < {TARGET_RSS_MB} MB: {verdict(m.peak_mb() < TARGET_RSS_MB)}"
        )
    per = 1e6 / reach
    # PostgreSQL's short-lived backends leave no trace in /proc: count it as the
    # machine's busy time that the other processes do not account for.
    rest = cpu["machine busy"] - cpu["workers"] - cpu["mock gateway"] - cpu["redis"]
    say(
        f"CPU per recipient: workers {cpu['workers'] * per:.0f} µs, mock gateway "
        f"{cpu['mock gateway'] * per:.0f} µs, Redis {cpu['redis'] * per:.0f} µs, PostgreSQL "
        f"and the rest {rest * per:.0f} µs; machine busy "
        f"{cpu['machine busy'] / max(cpu['machine'], 1e-9):.0%} of {os.cpu_count()} cores"
    )
    ok = (
        status == "done"
        and counts.get("sent", 0) == reach
        and stats.get("accepted") == reach
        and stats.get("duplicates") == 0
    )
    say(
        f"check: campaign {status}; rows {counts}; gateway accepted {stats.get('accepted')}, "
        f"repeated {stats.get('duplicates')}: {'OK' if ok else 'FAILED'}"
    )
    RESULTS.mkdir(exist_ok=True)
    result = RESULTS / f"campaign-{started_at:%Y%m%dT%H%M%S}.json"
    result.write_text(
        json.dumps(
            {
                "started": started_at.isoformat(),
                "recipients": reach,
                "batch_size": size,
                "workers": n_workers,
                "ceiling_per_s": limit,
                "end_to_end_per_s": e2e,
                "seconds": elapsed,
                "peak_pss_mb": [m.peak_mb() for m in memory],
                "worker_peak_rss_mb": peak_rss,
                "cpu_seconds": cpu,
                "rss_quarter_mb": [m.at_mb(0.25) for m in memory],
                "rss_end_mb": [m.at_mb(0.99) for m in memory],
                "rows": counts,
                "gateway": stats,
            },
            indent=2,
        )
    )
    say(f"results: {result.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

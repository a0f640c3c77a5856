"""Soak run: ``python -m bench.soak`` (last in ``make bench``).

Fifteen minutes (``SOAK_SECONDS``) of mixed traffic on loopback against one Ngazi
set-up, every queue and endpoint busy at once, at a steady, modest load (a
fraction of what bench.ussd and bench.survey measure at saturation):

* USSD journeys (``bench/ussd.lua``, the 9-hop browse; 1 in 10 a first-time caller);
* cadres' household surveys (``bench/survey.lua``, every screen checked);
* farmers' SMS to ``/sms/inbound`` (``bench/inbound.lua``), processed and answered
  by the RQ workers through the mock gateway;
* a small campaign at the start (warm-up: the workers have sent a batch before
  memory is first measured), then two campaigns to ``SOAK_RECIPIENTS``
  subscribers, one after the baseline minute and one half-way; the mock gateway
  posts a delivery report for every accepted send to ``/sms/delivery``;
* a trickle of ``POST /bench/hello`` (the ceiling: the same server at the same
  moment doing no work), so each endpoint's p99 can be read as a multiple of it.

One gunicorn (``deploy/gunicorn.conf.py``, with an access log for the server-side
view), ``SOAK_WORKERS`` RQ workers (``flask worker``), the mock gateway
(``app.gateways.mock_server``: ``SOAK_GATEWAY_LATENCY`` before each answer,
delivery reports ``SOAK_DLR_DELAY`` later), PostgreSQL and Redis.

It reports, per endpoint, requests, errors (socket errors, timeouts, non-2xx, bad
bodies, journeys off their path) and p50/p99 from wrk's side and from the access
log; every process's memory (RSS and PSS from ``/proc/<pid>/smaps_rollup``) every
``SOAK_SAMPLE_SECONDS``, as the average of the first minute after the warm-up
against the last minute; and end-state checks: every inbound SMS processed once
and answered, every campaign done with each recipient sent exactly once (the mock
gateway counts repeated sends), every SMS's delivery report applied, no failed RQ
job, no 5xx and no traceback in the server's log, each saved survey stored once.

The per-number limits (``USSD_MSISDN_LIMIT``, ``SMS_MSISDN_LIMIT``) stay at their
production defaults during the soak: their counters are Redis state that grows
with traffic, which a soak should cover, and the synthetic people are paced as
people are (a caller hops every ~10 s, a cadre answers every ~5 s, a farmer sends a
few texts in 15 minutes), so a refusal is an error. Only priming (the set-up that
walks every caller and cadre to its starting screen, faster than anyone types)
runs on a separate server with the limits off; it leaves no counters behind.

Targets: no error; USSD p99 <= 25 ms (bench.ussd's) and every survey hop but the
PIN p99 <= 25 ms (bench.survey's); memory flat: every Ngazi process's RSS grows by
less than 10 % and less than 20 MB from the first minute after the warm-up to the
last. It prints PASS/MISS, writes ``bench/results/soak-<time>.json`` and exits 1
only when a request failed or a check did not hold.

Setup: it drops and re-creates ``ngazi_bench_soak`` (kept afterwards, for a look
at what went wrong), flushes Redis db 4 (bench.ussd, bench.survey and
bench.campaign use 1, bench.inbound 2, bench.console_scale 3), migrates, loads
the demo data and adds callers, cadres and campaign subscribers.

Environment (defaults in brackets): ``SOAK_SECONDS`` [900] (``120`` for a quick
look); ``SOAK_DATABASE_URL``; ``SOAK_REDIS_URL`` [redis://127.0.0.1:6379/4];
``SOAK_USSD_RATE`` [200 hops/s]; ``SOAK_SURVEY_RATE`` [30 hops/s];
``SOAK_INBOUND_RATE`` [3 SMS/s]; ``SOAK_HELLO_RATE`` [10 req/s];
``SOAK_RECIPIENTS`` [30000, scaled down for shorter runs]; ``SOAK_SMS_RATE``
[100, the app's default ``SMS_RATE``]; ``SOAK_WORKERS`` [2];
``SOAK_GATEWAY_LATENCY`` [0.2 s]; ``SOAK_DLR_DELAY`` [2 s]; ``SOAK_SAMPLE_SECONDS``
[15; 5 under 600 s]; ``SOAK_DRAIN_TIMEOUT`` [600 s]; ``BENCH_PORT``, ``GUNICORN_*``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bench.campaign import _children, _cpu_seconds, _get
from bench.inbound import InboundRun, corpus_texts, queue_state, write_texts
from bench.survey import LUA as SURVEY_LUA
from bench.survey import PIN as SURVEY_PIN
from bench.survey import (
    SurveyRun,
    by_kind,
    check_database,
    households_file,
    make_households,
    read_samples,
    register_cadres,
)
from bench.ussd import (
    BENCH_WEBHOOK_TOKEN,
    BIN,
    LUA,
    RESULTS,
    ROOT,
    TARGET_P99_MS,
    Run,
    _env,
    _env_float,
    _env_int,
    _proc_stat,
    begin,
    children_cpu,
    configure_server,
    free_port,
    gunicorn,
    machine_cpu,
    pg_conninfo,
    prepare,
    register_returning_callers,
    run_wrk,
    say,
    server_cpu,
    services_cpu,
    services_ticks,
    verdict,
    write_results,
)

INBOUND_LUA = ROOT / "bench" / "inbound.lua"
GROWTH_PCT = 10.0  # memory target: less than this much growth ...
GROWTH_MB = 20.0  # ... and less than this, first minute after warm-up to the last
USSD_TAG, SURVEY_TAG, INBOUND_TAG, HELLO_TAG = 3, 1, 5, 6
POPULATION_PREFIX = "+25479"  # campaign subscribers; no wrk script uses it
TEXTS = {
    "en": "Ngazi: free maize seed for households in your village this week ({name}).",
    "sw": "Ngazi: mbegu za mahindi bure kwa kaya za kijiji chako wiki hii ({name}).",
    "fr": "Ngazi : semences de mais gratuites pour votre village cette semaine ({name}).",
    "zh": "Ngazi：本周贵村家庭可免费领取玉米种子（{name}）。",
}


@dataclass(frozen=True)
class Plan:
    """What the soak runs: rates, sizes and its timeline (seconds from the start)."""

    seconds: int
    ussd_rate: float
    survey_rate: float
    inbound_rate: float
    hello_rate: float
    recipients: int
    sms_rate: int
    workers: int
    latency: float
    dlr_delay: float
    sample_every: float
    drain_timeout: int
    ussd_callers: int = 2000
    ussd_connections: int = 50
    ussd_pool: int = 5000  # returning callers' numbers per wrk thread
    survey_connections: int = 20
    survey_ring: int = 8
    inbound_connections: int = 4
    farmers: int = 2000  # per wrk thread

    @classmethod
    def from_env(cls) -> Plan:
        seconds = _env_int("SOAK_SECONDS", 900)
        if seconds < 60:
            raise SystemExit("SOAK_SECONDS must be at least 60")
        return cls(
            seconds=seconds,
            ussd_rate=_env_float("SOAK_USSD_RATE", 200),
            survey_rate=_env_float("SOAK_SURVEY_RATE", 30),
            inbound_rate=_env_float("SOAK_INBOUND_RATE", 3),
            hello_rate=_env_float("SOAK_HELLO_RATE", 10),
            recipients=_env_int("SOAK_RECIPIENTS", max(1000, round(30000 * min(1, seconds / 900)))),
            sms_rate=_env_int("SOAK_SMS_RATE", 100),
            workers=_env_int("SOAK_WORKERS", 2),
            latency=_env_float("SOAK_GATEWAY_LATENCY", 0.2),
            dlr_delay=_env_float("SOAK_DLR_DELAY", 2.0),
            sample_every=_env_float("SOAK_SAMPLE_SECONDS", 15 if seconds >= 600 else 5),
            drain_timeout=_env_int("SOAK_DRAIN_TIMEOUT", 600),
        )

    @property
    def window(self) -> float:
        """Seconds of the warm-up, and of each memory window (a minute; less in short runs)."""
        return min(60.0, self.seconds / 4)

    @property
    def baseline(self) -> tuple[float, float]:
        return self.window, 2 * self.window

    @property
    def final(self) -> tuple[float, float]:
        return self.seconds - self.window, float(self.seconds)

    def campaigns(self) -> list[tuple[float, str]]:
        """(start, name): the warm-up campaign (one village), then two to everyone."""
        second = max(self.seconds / 2, 2 * self.window + 10)
        return [(5.0, "warm-up"), (2 * self.window, "A"), (second, "B")]


# -- memory -----------------------------------------------------------------------------


def smaps(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB from /proc/<pid>/smaps_rollup; (0, 0) if it is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def _pids_named(prefix: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_stat(entry)
            if st is not None and st[0].startswith(prefix):
                out.append(int(entry))
    return out


@dataclass
class Memory:
    """Every process's (RSS, PSS) every ``every`` seconds, by label; a thread."""

    roots: dict[str, int]  # label -> pid: "gunicorn", "rq worker 1", ..., "mock gateway"
    every: float
    t0: float = 0.0
    samples: list[tuple[float, dict[str, tuple[int, int]]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def snapshot(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for label, pid in self.roots.items():
            own = "gunicorn master" if label == "gunicorn" else label
            out[own] = smaps(pid)
            for child in _children(pid):
                kind = "worker" if label == "gunicorn" else "child"
                out[f"{label} {kind} {child}"] = smaps(child)
        for name, prefix in (("postgres (every process)", "postgres"), ("redis-server", "redis")):
            parts = [smaps(p) for p in _pids_named(prefix)]
            out[name] = (sum(r for r, _ in parts), sum(p for _, p in parts))
        return out

    def start(self, t0: float) -> None:
        self.t0 = t0

        def run() -> None:
            while True:
                self.samples.append((time.monotonic() - self.t0, self.snapshot()))
                if self._stop.wait(self.every):
                    return

        self._thread = threading.Thread(target=run, name="memory", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def summary(self, plan: Plan) -> dict[str, dict[str, Any]]:
        """Per process: first- and last-window averages (MB), growth, slope (MB/h)."""
        (a0, a1), (b0, b1) = plan.baseline, plan.final
        labels = sorted({k for _, snap in self.samples for k in snap})
        out = {}
        for label in labels:
            series = [(t, s[label]) for t, s in self.samples if label in s and s[label][0]]
            first = [v for t, v in series if a0 <= t < a1]
            last = [v for t, v in series if b0 <= t <= b1]
            if not first or not last:
                out[label] = {"missing": True, "samples": len(series)}
                continue
            row: dict[str, Any] = {"samples": len(series)}
            for i, key in enumerate(("rss", "pss")):
                f = statistics.fmean(v[i] for v in first) / 1024
                la = statistics.fmean(v[i] for v in last) / 1024
                row[key] = {
                    "first_mb": f,
                    "last_mb": la,
                    "growth_mb": la - f,
                    "growth_pct": 100 * (la - f) / f if f else 0.0,
                }
            pts = [(t, v[0] / 1024) for t, v in series if t >= a0]
            row["rss_slope_mb_per_h"] = _slope(pts) * 3600
            row["rss_peak_mb"] = max(v[0] for _, v in series) / 1024
            out[label] = row
        return out


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    mt = statistics.fmean(t for t, _ in points)
    mv = statistics.fmean(v for _, v in points)
    den = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (v - mv) for t, v in points) / den if den else 0.0


# -- traffic -----------------------------------------------------------------------------


@dataclass
class Wrk:
    """One wrk process of the soak, running for the whole of it."""

    name: str
    endpoint: str
    cls: type[Run]
    cmd: list[str]
    env: dict[str, str]
    connections: int
    out: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.out, "wb") as f:
            self.proc = subprocess.Popen(
                self.cmd, cwd=ROOT, env=self.env, stdout=f, stderr=subprocess.STDOUT
            )

    def result(self) -> Run:
        """The run as bench.ussd's ``Run`` (CPU fields zero: the soak counts CPU as a whole)."""
        text = self.out.read_text()
        line = next((ln for ln in text.splitlines() if ln.startswith("BENCH_JSON ")), None)
        if line is None:
            raise SystemExit(f"wrk {self.name} failed:\n{text}")
        doc = json.loads(line.removeprefix("BENCH_JSON "))
        return self.cls(
            name=self.name,
            command=" ".join(self.cmd),
            connections=self.connections,
            seconds=doc["duration_us"] / 1e6,
            requests=doc["requests"],
            latency_us=doc["latency_us"],
            errors=doc["errors"],
            checked=doc["checked"],
            first_bad=doc["first_bad"],
            first_odd=doc["first_odd"],
            wrk_cpu=0.0,
            server_cpu=0.0,
            server_sys=0.0,
            services_cpu={"postgres": 0.0, "redis": 0.0},
            machine_busy=0.0,
            machine_total=0.0,
        )


def _wrk(
    name: str,
    endpoint: str,
    cls: type[Run],
    *,
    script: Path,
    base: str,
    seconds: int,
    connections: int,
    threads: int,
    ring: int,
    tag: int,
    mode: str,
    rate: float,
    first: int,
    env_extra: dict[str, str],
    stamp: str,
) -> Wrk:
    think_ms = max(1, round(1000 * connections / rate))
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    cmd += ["-s", str(script.relative_to(ROOT)), base, "--", mode, str(ring // threads), str(tag)]
    cmd.append(str(first))
    env = {**os.environ, "USSD_THINK_MS": str(think_ms), **env_extra}
    out = RESULTS / f"soak-wrk-{name}-{stamp}.txt"
    return Wrk(name, endpoint, cls, cmd, env, connections, out)


def traffic(plan: Plan, base: str, files: dict[str, Path], stamp: str) -> list[Wrk]:
    """The four wrk processes: USSD journeys, surveys, inbound SMS, the hello probe."""
    p = plan
    return [
        _wrk(
            "ussd",
            "/ussd",
            Run,
            script=LUA,
            base=base,
            seconds=p.seconds,
            connections=p.ussd_connections,
            threads=2,
            ring=p.ussd_callers,
            tag=USSD_TAG,
            mode="ussd",
            rate=p.ussd_rate,
            first=p.ussd_connections // 2,
            env_extra={},
            stamp=stamp,
        ),
        _wrk(
            "survey",
            "/ussd",
            SurveyRun,
            script=SURVEY_LUA,
            base=base,
            seconds=p.seconds,
            connections=p.survey_connections,
            threads=p.survey_connections,
            ring=p.survey_connections * p.survey_ring,
            tag=SURVEY_TAG,
            mode="ussd",
            rate=p.survey_rate,
            first=1,
            env_extra=_survey_env(files, "soak"),
            stamp=stamp,
        ),
        _wrk(
            "inbound",
            "/sms/inbound",
            InboundRun,
            script=INBOUND_LUA,
            base=base,
            seconds=p.seconds,
            connections=p.inbound_connections,
            threads=2,
            ring=2 * p.farmers,
            tag=INBOUND_TAG,
            mode="sms",
            rate=p.inbound_rate,
            first=0,
            env_extra={
                "INBOUND_TEXTS": str(files["texts"]),
                "INBOUND_FIRST": str(p.inbound_connections // 2),
            },
            stamp=stamp,
        ),
        _wrk(
            "hello",
            "/bench/hello",
            InboundRun,
            script=INBOUND_LUA,
            base=base,
            seconds=p.seconds,
            connections=2,
            threads=1,
            ring=100,
            tag=HELLO_TAG,
            mode="hello",
            rate=p.hello_rate,
            first=0,
            env_extra={"INBOUND_TEXTS": str(files["texts"]), "INBOUND_FIRST": "2"},
            stamp=stamp,
        ),
    ]


def _survey_env(files: dict[str, Path], run: str) -> dict[str, str]:
    return {
        "SURVEY_HOUSEHOLDS": str(files["households"]),
        "SURVEY_PIN": SURVEY_PIN,
        "SURVEY_SAMPLES": str(files[f"samples-{run}"]),
        "SURVEY_IDLE_MS": "200" if run == "prime" else "",
    }


def prime(plan: Plan, base: str, master: int, files: dict[str, Path]) -> list[Run]:
    """Walk every survey cadre, then every USSD caller, to its starting screen (as
    bench.ussd and bench.survey do), so the soak starts in steady state."""
    say(f"  prime {plan.survey_connections * plan.survey_ring} cadres mid-survey")
    survey = run_wrk(
        "prime-survey",
        base,
        mode="prime",
        seconds=900,
        connections=plan.survey_connections,
        threads=plan.survey_connections,
        ring=plan.survey_connections * plan.survey_ring,
        tag=SURVEY_TAG,
        master=master,
        script=SURVEY_LUA,
        env_extra=_survey_env(files, "prime"),
        cls=SurveyRun,
    )
    say(f"  prime {plan.ussd_callers} callers mid-journey")
    ussd = run_wrk(
        "prime-ussd",
        base,
        mode="prime",
        seconds=900,
        connections=plan.ussd_connections,
        threads=2,
        ring=plan.ussd_callers,
        tag=USSD_TAG,
        master=master,
    )
    return [survey, ussd]


# -- set-up -------------------------------------------------------------------------------


def add_population(db_url: str, n: int) -> tuple[list[str], str]:
    """``n`` subscribers over the demo villages and four languages, for the
    campaigns; returns the provinces' names (the campaigns' audience) and one
    village as ``County/Village`` (the warm-up campaign's)."""
    import psycopg

    with psycopg.connect(pg_conninfo(db_url), autocommit=True) as conn:
        villages = [r[0] for r in conn.execute("SELECT id FROM area WHERE level = 'village'")]
        conn.execute(
            """
            INSERT INTO subscriber (msisdn, language, opted_out, first_seen, pin_failures, area_id)
            SELECT %(prefix)s || lpad(g::text, 7, '0'), (ARRAY['en', 'sw', 'fr', 'zh'])[1 + g %% 4],
                   false, now(), 0, (%(villages)s::int[])[1 + g %% %(nv)s]
            FROM generate_series(1, %(n)s) AS g
            """,
            {"prefix": POPULATION_PREFIX, "villages": villages, "nv": len(villages), "n": n},
        )
        conn.execute("ANALYZE subscriber")
        provinces = [r[0] for r in conn.execute("SELECT name FROM area WHERE parent_id IS NULL")]
        row = conn.execute(
            "SELECT c.name, v.name FROM area v JOIN area c ON c.id = v.parent_id WHERE v.id = %s",
            (villages[0],),
        ).fetchone()
    assert row is not None
    return provinces, f"{row[0]}/{row[1]}"


@contextmanager
def mock_gateway(plan: Plan, dlr_url: str, log: IO[bytes]) -> Iterator[tuple[str, int]]:
    """The mock gateway in its own process, with latency and delivery reports;
    yields its base URL and pid. Only the last 10 requests are kept (the default
    1,000 bulk requests would look like growth); every (number, text) sent is
    counted, which grows by design: that is how repeated sends are found."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.gateways.mock_server",
            "--port",
            str(port),
            "--latency",
            str(plan.latency),
            "--dlr-url",
            dlr_url,
            "--dlr-delay",
            str(plan.dlr_delay),
            "--keep-requests",
            "10",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().decode().strip()
        if not base:
            raise SystemExit("the mock gateway did not start")
        yield base, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def rq_workers(n: int, stamp: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``n`` ``flask worker`` processes (the environment says where to send SMS)."""
    procs: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:
        for i in range(n):
            log = stack.enter_context(open(RESULTS / f"soak-worker{i + 1}-{stamp}.log", "wb"))
            procs.append(
                subprocess.Popen(
                    [str(BIN / "flask"), "--app", "app", "worker"],
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        try:
            yield procs
        finally:
            for w in procs:  # SIGTERM: RQ's warm shutdown finishes the job at hand
                if w.poll() is None:
                    w.terminate()
            for w in procs:
                try:
                    w.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    w.kill()
                    w.wait()


def start_campaign(name: str, areas: list[str], stamp: str) -> int:
    """``flask campaign create … --send``: returns the campaign's id."""
    texts = [f"--text={lang}={t.format(name=f'{name} {stamp}')}" for lang, t in TEXTS.items()]
    out = subprocess.run(
        [
            str(BIN / "flask"),
            "--app",
            "app",
            "campaign",
            "create",
            f"soak {name}",
            *texts,
            *(f"--area={a}" for a in areas),
            "--quiet",
            "none",
            "--send",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.split()[1].rstrip(":"))


def _sql(db_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(pg_conninfo(db_url)) as conn:
        return list(conn.execute(sql, args or None).fetchall())


def progress(db_url: str, redis_url: str) -> dict[str, Any]:
    """Campaigns, inbound messages, outbound rows and queues now."""
    campaigns = {
        int(i): (str(s), int(n), int(d))
        for i, s, n, d in _sql(
            db_url,
            "SELECT c.id, c.status, count(o.id), count(o.id) FILTER (WHERE o.status = 'delivered')"
            " FROM campaign c LEFT JOIN outbound_sms o ON o.campaign_id = c.id GROUP BY c.id",
        )
    }
    inbound = dict(_sql(db_url, "SELECT status, count(*) FROM inbound_sms GROUP BY status"))
    outbound = dict(_sql(db_url, "SELECT status, count(*) FROM outbound_sms GROUP BY status"))
    [(waiting,)] = _sql(db_url, "SELECT count(*) FROM waiting_report")
    return {
        "campaigns": campaigns,
        "inbound": {str(k): int(v) for k, v in inbound.items()},
        "outbound": {str(k): int(v) for k, v in outbound.items()},
        "waiting_reports": int(waiting),
        "queues": queue_state(redis_url),
    }


def settled(state: dict[str, Any], gateway: dict[str, int], ids: list[int]) -> bool:
    """Nothing left to do: campaigns over, messages processed, sends answered and
    reported on, queues empty, the mock's reports all posted."""
    busy_queues = sum(v for k, v in state["queues"].items() if not k.endswith("_failed"))
    posted = gateway.get("reports_sent", 0) + gateway.get("reports_failed", 0)
    return (
        all(state["campaigns"].get(i, ("?",))[0] in ("done", "cancelled", "paused") for i in ids)
        and state["inbound"].get("received", 0) == 0
        and all(state["outbound"].get(s, 0) == 0 for s in ("queued", "sending", "sent"))
        and state["waiting_reports"] == 0
        and busy_queues == 0
        and posted + gateway.get("reports_dropped", 0) >= gateway.get("accepted", 0)
    )


# -- the server's side ------------------------------------------------------------------------

ACCESS_FORMAT = '%(t)s %(p)s "%(m)s %(U)s" %(s)s %(D)s'
_ACCESS = re.compile(r'^\[([^\]]+)\] <?(\d+)>? "(\S+) (\S+)" (\d{3}) (\d+)$')


def _pct(values: list[int], p: float) -> float:
    """Nearest-rank percentile of µs values, in ms."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))] / 1000


def access_log(path: Path, t0_epoch: float, plan: Plan) -> dict[str, dict[str, Any]]:
    """Per path (method and path, no query): requests, non-2xx, 5xx, p50/p99 (ms, the
    worker's time from parsed request to response), and p99 in the first and the
    last memory window (the same minutes)."""
    rows: dict[str, list[tuple[float, int, int]]] = {}
    for line in path.read_text(errors="replace").splitlines():
        m = _ACCESS.match(line)
        if m is None:
            continue
        when = datetime.strptime(m[1], "%d/%b/%Y:%H:%M:%S %z").timestamp() - t0_epoch
        rows.setdefault(f"{m[3]} {m[4]}", []).append((when, int(m[5]), int(m[6])))
    (a0, a1), (b0, b1) = plan.baseline, plan.final
    out = {}
    for key, items in sorted(rows.items()):
        us = [u for _, _, u in items]
        out[key] = {
            "requests": len(items),
            "non_2xx": sum(1 for _, s, _ in items if not 200 <= s < 300),
            "5xx": sum(1 for _, s, _ in items if s >= 500),
            "p50_ms": _pct(us, 50),
            "p99_ms": _pct(us, 99),
            "max_ms": max(us) / 1000,
            "p99_first_window_ms": _pct([u for t, _, u in items if a0 <= t < a1 + 1], 99),
            "p99_last_window_ms": _pct([u for t, _, u in items if b0 <= t <= b1 + 1], 99),
        }
    return out


def log_problems(paths: list[Path]) -> dict[str, int]:
    """Per log in ``paths``: tracebacks (a chained exception's second one not
    counted again) and ERROR/CRITICAL lines; for the RQ workers' logs, each job
    that raised (RQ retries it, so the end state may still be right), by job, as
    ``<log>: <job function>``."""
    out: dict[str, int] = {}
    job = re.compile(r"exception raised while executing \((\S+)\)")
    for p in paths:
        text = p.read_text(errors="replace") if p.exists() else ""
        count = 0
        for ln in text.splitlines():
            m = job.search(ln)
            if m is not None:
                key = f"{p.name}: {m[1]}"
                out[key] = out.get(key, 0) + 1
            elif "[ERROR]" in ln or "[CRITICAL]" in ln:
                count += 1
            elif ln.startswith("Traceback") and "worker" not in p.name:
                count += 1
        out[p.name] = count
    return {k: v for k, v in out.items() if v or ":" not in k}


# -- CPU of the whole soak ------------------------------------------------------------------


def cpu_mark(master: int, others: dict[str, int]) -> dict[str, Any]:
    busy, total = machine_cpu()
    return {
        "gunicorn": sum(server_cpu(master)),
        **{
            k: _cpu_seconds(pid) + sum(_cpu_seconds(c) for c in _children(pid))
            for k, pid in others.items()
        },
        "wrk and commands": children_cpu(),
        "busy": busy,
        "total": total,
        "services": services_ticks(),
    }


def cpu_used(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    out = {k: b[k] - a[k] for k in a if k not in ("services", "busy", "total")}
    out.update(services_cpu(a["services"]))
    counted = sum(out.values())
    out["machine busy"] = b["busy"] - a["busy"]
    out["machine"] = b["total"] - a["total"]
    # Other sessions' work, this script's, and PostgreSQL backends that ended
    # meanwhile (short-lived connections leave no trace in /proc).
    out["other"] = max(0.0, out["machine busy"] - counted)
    return out


# -- the run ---------------------------------------------------------------------------------


def soak(
    plan: Plan,
    *,
    db_url: str,
    redis_url: str,
    base: str,
    master: int,
    workers: list[subprocess.Popen[bytes]],
    mock: tuple[str, int],
    files: dict[str, Path],
    areas: tuple[list[str], str],
    stamp: str,
) -> dict[str, Any]:
    """Run the traffic for ``plan.seconds``, start the campaigns on time, sample
    memory; then wait until everything is settled. Returns what was measured."""
    mock_base, mock_pid = mock
    stats_url = mock_base.replace("/version1", "/mock/stats")
    roots = {"gunicorn": master, "mock gateway": mock_pid}
    roots.update({f"rq worker {i + 1}": w.pid for i, w in enumerate(workers)})
    memory = Memory(roots, plan.sample_every)
    jobs = traffic(plan, base, files, stamp)
    events = plan.campaigns()
    campaign_ids: dict[str, int] = {}
    campaign_started: dict[str, float] = {}
    cpu0 = cpu_mark(master, {k: v for k, v in roots.items() if k != "gunicorn"})
    t0, t0_epoch = time.monotonic(), time.time()
    try:
        for j in jobs:
            j.start()
        memory.start(t0)
        say(f"  t=0: {len(jobs)} wrk processes started for {plan.seconds} s")
        next_report = 60.0
        while any(j.proc is not None and j.proc.poll() is None for j in jobs):
            t = time.monotonic() - t0
            while events and events[0][0] <= t:
                at, name = events.pop(0)
                where = [areas[1]] if name == "warm-up" else areas[0]
                campaign_ids[name] = start_campaign(name, where, stamp)
                campaign_started[name] = t
                say(
                    f"  t={t:4.0f}s: campaign {name} (id {campaign_ids[name]})"
                    f" to {', '.join(where)}"
                )
            if t >= next_report:
                next_report += 60.0
                _say_progress(t, db_url, redis_url, stats_url, memory)
            time.sleep(0.5)
        traffic_end = time.monotonic() - t0
        cpu1 = cpu_mark(master, {k: v for k, v in roots.items() if k != "gunicorn"})
        memory.stop()
        say(f"  t={traffic_end:4.0f}s: traffic over; waiting for the queues to settle")
        deadline = time.monotonic() + plan.drain_timeout
        ids = list(campaign_ids.values())
        while True:
            state, gateway = progress(db_url, redis_url), _get(stats_url)
            if settled(state, gateway, ids):
                break
            if time.monotonic() > deadline:
                say(f"  NOT SETTLED after {plan.drain_timeout} s: {state} {gateway}")
                break
            time.sleep(2)
        drained = time.monotonic() - t0 - traffic_end
        say(f"  settled {drained:.0f} s after the traffic")
        time.sleep(1)
        state, gateway = progress(db_url, redis_url), _get(stats_url)
        alive = [w.poll() is None for w in workers]
    finally:
        memory.stop()
        for j in jobs:
            if j.proc is not None and j.proc.poll() is None:
                j.proc.kill()
                j.proc.wait()
    runs = {j.name: j.result() for j in jobs}
    return {
        "runs": runs,
        "endpoints": {j.name: j.endpoint for j in jobs},
        "memory": memory,
        "cpu": cpu_used(cpu0, cpu1),
        "traffic_seconds": traffic_end,
        "drain_seconds": drained,
        "campaigns": campaign_ids,
        "campaign_started": campaign_started,
        "state": state,
        "gateway": gateway,
        "workers_alive": alive,
        "t0_epoch": t0_epoch,
        "stats_url": stats_url,
    }


def _say_progress(t: float, db_url: str, redis_url: str, stats_url: str, memory: Memory) -> None:
    try:
        st, gw = progress(db_url, redis_url), _get(stats_url)
    except Exception as exc:  # a progress line is not worth stopping the soak for
        say(f"  t={t:4.0f}s: (progress unavailable: {exc})")
        return
    snap = memory.samples[-1][1] if memory.samples else {}
    gun = sum(v[0] for k, v in snap.items() if k.startswith("gunicorn")) / 1024
    rq = sum(v[0] for k, v in snap.items() if k.startswith("rq worker")) / 1024
    camp = " ".join(f"{i}:{s}:{d}/{n}" for i, (s, n, d) in sorted(st["campaigns"].items()))
    queued = {k: v for k, v in st["queues"].items() if v and not k.endswith("_started")}
    say(
        f"  t={t:4.0f}s: campaigns {camp or '-'}; inbound {st['inbound']}; queues {queued};"
        f" gateway accepted {gw.get('accepted')} reports {gw.get('reports_sent')};"
        f" RSS gunicorn {gun:.0f} MB, rq {rq:.0f} MB"
    )


# -- checks -----------------------------------------------------------------------------------


def check_end_state(db_url: str, redis_url: str, m: dict[str, Any]) -> dict[str, Any]:
    """Inbound SMS processed once and answered; campaigns done, one accepted send
    per recipient; every send reported delivered; no failed job."""
    inbound: InboundRun = m["runs"]["inbound"]
    [(rows, processed, answered, missing)] = _sql(
        db_url,
        "SELECT count(*), count(*) FILTER (WHERE i.status = 'processed'),"
        " count(o.id) FILTER (WHERE o.status = 'delivered'),"
        " count(*) FILTER (WHERE o.id IS NULL)"
        " FROM inbound_sms i LEFT JOIN outbound_sms o ON o.dedup_key = 'inbound:' || i.gateway_id",
    )
    sent_bound = inbound.checked["sent"] - inbound.checked["bad"]
    inbound_ok = (
        inbound.checked["accepted"] <= rows <= sent_bound
        and processed == rows
        and answered == rows
        and missing == 0
    )
    campaigns: dict[int, dict[str, Any]] = {
        int(i): {"status": str(s), "planned": int(p or 0), "rows": int(n), "delivered": int(d)}
        for i, s, p, n, d in _sql(
            db_url,
            "SELECT c.id, c.status, c.planned, count(o.id),"
            " count(o.id) FILTER (WHERE o.status = 'delivered')"
            " FROM campaign c LEFT JOIN outbound_sms o ON o.campaign_id = c.id GROUP BY c.id",
        )
    }
    campaigns_ok = bool(campaigns) and all(
        c["status"] == "done" and c["rows"] == c["planned"] == c["delivered"] > 0
        for c in campaigns.values()
    )
    [(outbound, delivered, with_id)] = _sql(
        db_url,
        "SELECT count(*), count(*) FILTER (WHERE status = 'delivered'),"
        " count(gateway_message_id) FROM outbound_sms",
    )
    # The same reply text to the same farmer twice (two unclear offers) is a
    # legitimate repeat for the mock's count; a campaign's rows never repeat.
    [(repeats,)] = _sql(
        db_url,
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM outbound_sms"
        " WHERE campaign_id IS NULL GROUP BY msisdn, body) g",
    )
    gw = m["gateway"]
    gateway_ok = (
        gw.get("accepted") == outbound == delivered == with_id
        and gw.get("duplicates") == int(repeats)
        and gw.get("reports_sent") == gw.get("accepted")
        and gw.get("reports_failed") == 0
        and gw.get("reports_dropped") == 0
        and gw.get("errors") == 0
    )
    queues = queue_state(redis_url)
    failed_jobs = sum(v for k, v in queues.items() if k.endswith("_failed"))
    return {
        "inbound": {
            "rows": rows,
            "accepted_by_webhook": inbound.checked["accepted"],
            "sent_bound": sent_bound,
            "processed": processed,
            "answered_and_delivered": answered,
            "without_reply": missing,
            "statuses": m["state"]["inbound"],
            "ok": inbound_ok,
        },
        "campaigns": {"by_id": campaigns, "ok": campaigns_ok},
        "outbound": {
            "rows": outbound,
            "delivered": delivered,
            "with_gateway_id": with_id,
            "legitimate_repeats": int(repeats),
            "gateway": gw,
            "ok": gateway_ok,
        },
        "failed_jobs": {"count": failed_jobs, "queues": queues, "ok": failed_jobs == 0},
        "workers_alive": {"alive": m["workers_alive"], "ok": all(m["workers_alive"])},
    }


# -- report ---------------------------------------------------------------------------------


def _flat(row: dict[str, Any]) -> bool:
    g = row["rss"]
    return bool(g["growth_pct"] < GROWTH_PCT and g["growth_mb"] < GROWTH_MB)


def report_memory(mem: dict[str, dict[str, Any]], plan: Plan) -> tuple[list[str], list[str]]:
    """Print the memory table; return the Ngazi processes that were not flat, and
    those with too few samples."""
    (a0, a1), (b0, b1) = plan.baseline, plan.final
    say(
        f"Memory (MB; average of t={a0:.0f}-{a1:.0f} s vs t={b0:.0f}-{b1:.0f} s, sampled every"
        f" {plan.sample_every:.0f} s; target for Ngazi's processes: RSS growth"
        f" < {GROWTH_PCT:.0f} % and < {GROWTH_MB:.0f} MB):"
    )
    say(
        f"  {'process':34s} {'RSS first':>9s} {'last':>7s} {'growth':>15s} {'PSS first':>9s}"
        f" {'last':>7s} {'slope MB/h':>10s} {'peak':>6s}"
    )
    grew, missing = [], []
    for label, row in mem.items():
        context = label.startswith(("postgres", "redis", "mock"))
        if row.get("missing"):
            if not context:
                missing.append(label)
            say(f"  {label:34s} (not present in both windows: {row['samples']} samples)")
            continue
        r, p = row["rss"], row["pss"]
        if context:
            mark = "context"
        else:
            mark = verdict(_flat(row))
            if not _flat(row):
                grew.append(label)
        say(
            f"  {label:34s} {r['first_mb']:9.1f} {r['last_mb']:7.1f}"
            f" {r['growth_mb']:+6.1f} {r['growth_pct']:+6.1f}% {p['first_mb']:9.1f}"
            f" {p['last_mb']:7.1f} {row['rss_slope_mb_per_h']:+10.1f} {row['rss_peak_mb']:6.1f}"
            f"  {mark}"
        )
    return grew, missing


def report(
    plan: Plan,
    m: dict[str, Any],
    *,
    server_side: dict[str, dict[str, Any]],
    checks: dict[str, Any],
    survey_check: dict[str, Any],
    problems: dict[str, int],
    started: datetime,
    server: str,
    load: tuple[str, str],
) -> tuple[dict[str, Any], int]:
    runs: dict[str, Run] = m["runs"]
    hello = runs["hello"]
    base_p99 = hello.ms("p99") or 1e-9
    say()
    say("=" * 78)
    say(
        f"Ngazi soak, {started:%Y-%m-%d %H:%M} UTC, {plan.seconds} s of traffic (+"
        f" {m['drain_seconds']:.0f} s to settle), {os.cpu_count()} cores, {server}"
    )
    say(f"  load average before: {load[0]}; after: {load[1]}")
    say("Client side (wrk; errors: socket errors, timeouts, non-2xx, bad bodies, off path):")
    say(
        f"  {'traffic':8s} {'endpoint':13s} {'requests':>8s} {'rate/s':>7s} {'errors':>6s}"
        f" {'p50 ms':>7s} {'p99 ms':>7s} {'max ms':>7s} {'p99/hello':>9s}"
    )
    errors = 0
    for name, r in runs.items():
        errors += r.failures
        rate = r.rate if name != "hello" else r.requests / r.seconds
        say(
            f"  {name:8s} {m['endpoints'][name]:13s} {r.requests:8d} {rate:7.1f} {r.failures:6d}"
            f" {r.ms('p50'):7.1f} {r.ms('p99'):7.1f} {r.ms('max'):7.0f}"
            f" {r.ms('p99') / base_p99:9.1f}"
        )
        if r.failures:
            say(f"    {r.errors} {r.checked} first bad {r.first_bad!r} unexpected {r.first_odd!r}")
    kinds = runs["survey"].extra.get("kinds", {})
    rest, pin = kinds.get("all_but_pin", {}), kinds.get("pin", {})
    ussd_p99 = runs["ussd"].ms("p99")
    say(
        f"  USSD journeys p99 {ussd_p99:.1f} ms (target <= {TARGET_P99_MS:.0f}):"
        f" {verdict(ussd_p99 <= TARGET_P99_MS)}"
    )
    if rest:
        say(
            f"  survey, every hop but the PIN: p50 {rest['p50_ms']:.1f} p99 {rest['p99_ms']:.1f} ms"
            f" (target <= {TARGET_P99_MS:.0f}): {verdict(rest['p99_ms'] <= TARGET_P99_MS)};"
            f" PIN hop (argon2) p50 {pin['p50_ms']:.1f} p99 {pin['p99_ms']:.1f} ms;"
            f" households saved {runs['survey'].checked['journeys']}"
        )
    say("Server side (access log: the worker's time per request; first/last window p99):")
    say(
        f"  {'request':22s} {'count':>8s} {'non-2xx':>7s} {'5xx':>4s} {'p50 ms':>7s} {'p99 ms':>7s}"
        f" {'max ms':>7s} {'p99 first':>9s} {'last':>6s}"
    )
    five = 0
    for key, s in server_side.items():
        five += s["5xx"]
        say(
            f"  {key:22s} {s['requests']:8d} {s['non_2xx']:7d} {s['5xx']:4d} {s['p50_ms']:7.1f}"
            f" {s['p99_ms']:7.1f} {s['max_ms']:7.0f} {s['p99_first_window_ms']:9.1f}"
            f" {s['p99_last_window_ms']:6.1f}"
        )
    non2xx = sum(s["non_2xx"] for s in server_side.values())
    mem = m["memory"].summary(plan)
    grew, missing = report_memory(mem, plan)
    say(
        f"  memory flat: {verdict(not grew and not missing)}"
        + (f" (grew: {', '.join(grew)})" if grew else "")
        + (f" (too few samples: {', '.join(missing)})" if missing else "")
    )
    cpu = m["cpu"]
    whole = cpu["machine"] or 1e-9
    say(
        "CPU over the traffic (share of the machine): "
        + ", ".join(
            f"{k} {v / whole:.0%}" for k, v in cpu.items() if k not in ("machine", "machine busy")
        )
        + f"; busy {cpu['machine busy'] / whole:.0%}"
    )
    noisy = cpu["other"] > 0.1 * whole
    if noisy:
        say("  NOISY: other processes took over 10% of the machine; figures are on the slow side")
    c = checks
    i = c["inbound"]
    say(
        f"Inbound SMS: {i['rows']} stored ({i['accepted_by_webhook']} accepted),"
        f" {i['processed']} processed, {i['answered_and_delivered']} answered and delivered,"
        f" {i['without_reply']} without a reply: {'OK' if i['ok'] else 'FAILED'}"
    )
    for cid, camp in c["campaigns"]["by_id"].items():
        started_at = next(
            (m["campaign_started"][n] for n, i in m["campaigns"].items() if i == cid), 0.0
        )
        say(
            f"Campaign {cid} (t={started_at:.0f} s): {camp['status']}, {camp['planned']} planned,"
            f" {camp['rows']} rows, {camp['delivered']} delivered"
        )
    o = c["outbound"]
    gw = o["gateway"]
    say(
        f"Sends: {o['rows']} rows, {o['delivered']} delivered;"
        f" gateway accepted {gw.get('accepted')},"
        f" repeated {gw.get('duplicates')} (legitimate repeated replies {o['legitimate_repeats']}),"
        f" reports posted {gw.get('reports_sent')}, failed {gw.get('reports_failed')}, dropped"
        f" {gw.get('reports_dropped')}: {'OK' if o['ok'] and c['campaigns']['ok'] else 'FAILED'}"
    )
    say(f"RQ: failed jobs {c['failed_jobs']['count']}; workers alive {c['workers_alive']['alive']}")
    d = survey_check
    say(
        f"Surveys in PostgreSQL: {'OK' if d['ok'] else 'FAILED'}: {d['household_survey_rows']} rows"
        f" for {d['journeys_saved_seen']} saved (+{d['of_which_stored']} in flight at a stop);"
        f" lost {len(d['lost'])}, twice {len(d['stored_twice'])},"
        f" unexplained {len(d['unexplained'])}"
    )
    say(f"Server 5xx {five}, other non-2xx {non2xx - five}")
    say(
        "Logs (tracebacks, ERROR lines; jobs that raised, retried by RQ): "
        + ", ".join(f"{k} {v}" for k, v in problems.items())
    )
    checks_ok = (
        all(v["ok"] for v in c.values())
        and d["ok"]
        and five == 0
        and non2xx == 0
        and not any(problems.values())
    )
    say(f"Errors {errors}; checks {'OK' if checks_ok else 'FAILED'}")
    say("=" * 78)
    doc = {
        "plan": plan.__dict__,
        "load_average": {"before": load[0], "after": load[1]},
        "traffic_seconds": m["traffic_seconds"],
        "drain_seconds": m["drain_seconds"],
        "client": {
            k: {
                **{f: getattr(r, f) for f in ("requests", "seconds", "errors", "checked")},
                "latency_ms": {q: r.ms(q) for q in r.latency_us},
                "failures": r.failures,
                "extra": r.extra,
            }
            for k, r in runs.items()
        },
        "server": server_side,
        "memory": mem,
        "memory_samples": [
            {"t": t, **{k: list(v) for k, v in snap.items()}} for t, snap in m["memory"].samples
        ],
        "cpu_seconds": cpu,
        "noisy": noisy,
        "checks": c,
        "survey_check": d,
        "log_problems": problems,
        "errors": errors,
        "memory_grew": grew,
    }
    return doc, (0 if errors == 0 and checks_ok else 1)


# -- main -------------------------------------------------------------------------------------


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    settings = begin()
    plan = Plan.from_env()
    db_url = _env(
        "SOAK_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ngazi_bench_soak"
    )
    redis_url = _env("SOAK_REDIS_URL", "redis://127.0.0.1:6379/4")
    started = datetime.now(UTC)
    stamp = f"{started:%Y%m%dT%H%M%S}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    load_before = _loadavg()
    base = settings.base
    server = configure_server(
        db_url,
        redis_url,
        settings.port,
        USSD_NEW_EVERY="10",  # read by bench/ussd.lua under wrk
        USSD_POOL=str(plan.ussd_pool),
        AT_USERNAME="bench",
        AT_API_KEY="bench",
        SMS_RATE=str(plan.sms_rate),
    )
    for name in ("USSD_MSISDN_LIMIT", "SMS_MSISDN_LIMIT"):
        os.environ.pop(name, None)  # the defaults, in the soak (see the docstring)
    say(
        f"Ngazi soak, {started:%Y-%m-%d %H:%M} UTC, {plan.seconds} s, {os.cpu_count()} cores,"
        f" {server}; load average {load_before}"
    )
    say(
        f"  traffic: USSD {plan.ussd_rate:.0f} hops/s ({plan.ussd_callers} callers), surveys"
        f" {plan.survey_rate:.0f} hops/s ({plan.survey_connections * plan.survey_ring} cadres),"
        f" inbound SMS {plan.inbound_rate:.0f}/s, hello {plan.hello_rate:.0f}/s; campaigns to"
        f" {plan.recipients} subscribers at SMS_RATE {plan.sms_rate}/s; gateway latency"
        f" {plan.latency:.2f} s, reports {plan.dlr_delay:.0f} s later"
    )

    say("setup: database, Redis, migrations, demo data, callers, cadres, subscribers")
    prepare(db_url, redis_url)
    callers = register_returning_callers(db_url, redis_url, 2, plan.ussd_pool)
    cadres = register_cadres(db_url, redis_url, plan.survey_connections * plan.survey_ring)
    areas = add_population(db_url, plan.recipients)
    files = {
        "households": RESULTS / f"soak-households-{stamp}.tsv",
        "texts": RESULTS / f"soak-texts-{stamp}.txt",
        "samples-prime": RESULTS / f"soak-survey-prime-{stamp}.tsv",
        "samples-soak": RESULTS / f"soak-survey-{stamp}.tsv",
    }
    write_texts(corpus_texts(), files["texts"])
    from app import create_app
    from app.db import db_session
    from domain import surveys

    app = create_app()
    with app.app_context():
        form = surveys.form_for(db_session(), surveys.current_survey_id(db_session(), "household"))
        households_file(form, make_households(form, 200), files["households"])
    say(f"  {callers} returning callers, {cadres} cadres, {plan.recipients} campaign subscribers")

    # Priming walks callers and cadres faster than people type: on a server with
    # the per-number limits off (no counters are left behind), then stopped.
    prime_log = RESULTS / f"gunicorn-soak-prime-{stamp}.log"
    os.environ.update(USSD_MSISDN_LIMIT="0", SMS_MSISDN_LIMIT="0")
    say("priming (server with the per-number limits off)")
    with gunicorn(base, prime_log) as proc:
        primed = prime(plan, base, proc.pid, files)
    for name in ("USSD_MSISDN_LIMIT", "SMS_MSISDN_LIMIT"):
        os.environ.pop(name)

    log_path = RESULTS / f"gunicorn-soak-{stamp}.log"
    access = RESULTS / f"gunicorn-soak-access-{stamp}.log"
    os.environ["GUNICORN_ACCESSLOG"] = str(access)
    os.environ["GUNICORN_CMD_ARGS"] = f"--access-logformat '{ACCESS_FORMAT}'"
    mock_log = RESULTS / f"soak-mock-{stamp}.log"
    dlr_url = f"{base}/sms/delivery?token={BENCH_WEBHOOK_TOKEN}"
    say("soak: mock gateway, RQ workers, gunicorn (limits at their defaults)")
    with ExitStack() as stack:
        mlog = stack.enter_context(open(mock_log, "wb"))
        mock = stack.enter_context(mock_gateway(plan, dlr_url, mlog))
        os.environ["AT_SMS_BASE_URL"] = mock[0]
        workers = stack.enter_context(rq_workers(plan.workers, stamp))
        proc = stack.enter_context(gunicorn(base, log_path))
        time.sleep(2)  # the workers are up
        measured = soak(
            plan,
            db_url=db_url,
            redis_url=redis_url,
            base=base,
            master=proc.pid,
            workers=workers,
            mock=mock,
            files=files,
            areas=areas,
            stamp=stamp,
        )
    load_after = _loadavg()
    lat, saved, inflight = read_samples(files["samples-soak"])
    measured["runs"]["survey"].extra = {"kinds": by_kind(lat)}
    _, saved_prime, inflight_prime = read_samples(files["samples-prime"])
    survey_check = check_database(db_url, saved_prime + saved, inflight_prime + inflight)
    checks = check_end_state(db_url, redis_url, measured)
    server_side = access_log(access, measured["t0_epoch"], plan)
    worker_logs = sorted(RESULTS.glob(f"soak-worker*-{stamp}.log"))
    problems = log_problems([log_path, prime_log, mock_log, *worker_logs])
    doc, rc = report(
        plan,
        measured,
        server_side=server_side,
        checks=checks,
        survey_check=survey_check,
        problems=problems,
        started=started,
        server=server,
        load=(load_before, load_after),
    )
    doc["prime_failures"] = sum(r.failures for r in primed)
    if doc["prime_failures"]:
        say(f"priming failures: {doc['prime_failures']}")
        rc = 1
    for f in (files["households"], files["texts"]):
        f.unlink(missing_ok=True)
    write_results(
        "soak", doc, started=started, cores=os.cpu_count() or 1, server=server, log_path=log_path
    )
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)

"""USSD load benchmark: ``python -m bench.ussd`` (what ``make bench`` runs).

Starts Ngazi under gunicorn (``deploy/gunicorn.conf.py``) against real PostgreSQL
and Redis, then drives simulated callers through a 9-hop journey with Debian's
``wrk`` and ``bench/ussd.lua``:

1. saturating (closed loop: many connections, no think time) on ``POST /bench/hello``
   (the ceiling: the same server and the same request bodies, no work) and on
   ``POST /ussd``, giving the maximum hops per second of each;
2. a realistic offered load: thousands of callers mid-session, each answering a
   screen every few seconds, together offering half the measured maximum; its
   p50 and p99 latency.

It prints the figures with PASS/MISS against the targets (USSD at least 60 % of the
ceiling; p99 at most 25 ms at half the maximum), how much CPU the load generator,
the server and the backing services used, and writes them as JSON under
``bench/results/``. It exits 1 when any request failed (socket error, non-200,
a body not starting ``CON ``/``END ``, or a journey that went off its path), not
when a target is missed.

Setup: it drops and re-creates the benchmark database (its name must contain
"bench"), flushes the benchmark Redis database, migrates and loads the demo data.
Before each measured USSD run a "prime" run plays the earlier hops of every
caller in the ring, so the measured run starts in steady state (callers spread
evenly over the journey); the first prime run is also the warm-up.

Environment (defaults in brackets):

* ``BENCH_DATABASE_URL`` [postgresql+psycopg://postgres@127.0.0.1:5432/ngazi_bench]
* ``BENCH_REDIS_URL`` [redis://127.0.0.1:6379/1], flushed at the start
* ``BENCH_SECONDS`` [15] each saturating run
* ``BENCH_ROUNDS`` [2] ceiling/USSD pairs, interleaved; the best of each counts
  (kept-alive connections stay with the worker that accepted them, so one run can
  land unevenly on the workers and not use every core)
* ``BENCH_CONNECTIONS`` [64] in the saturating runs; ``BENCH_WRK_THREADS`` [2]
* ``BENCH_NEW_EVERY`` [10] one journey in N is a first-time caller (first contact
  and a language choice: two hops that write to PostgreSQL); the others are
  returning callers, from ``BENCH_POOL`` [5000] numbers per wrk thread registered
  beforehand with a language, as a service that people use again looks. 1: every
  journey is a first-time caller (the hardest mix).
* ``BENCH_OPEN_SECONDS`` [60] the realistic run; ``BENCH_OPEN_CALLERS`` [2000]
  callers mid-session; ``BENCH_OPEN_CONNECTIONS`` [100] connections carrying them;
  ``BENCH_OPEN_FRACTION`` [0.5] of the measured maximum, or ``BENCH_OPEN_RATE``
  hops/s
* ``BENCH_PORT`` [a free one]; ``GUNICORN_*`` as in deploy/gunicorn.conf.py
* ``BENCH_PROFILE`` [0]; 1 adds a USSD run with py-spy (``pip install py-spy``)
  sampling the workers, and prints where their time goes

A full run takes about three minutes; a quick one (about a minute):
``BENCH_ROUNDS=1 BENCH_SECONDS=5 BENCH_OPEN_SECONDS=10 make bench``.
"""

from __future__ import annotations

import json
import os
import resource
import runpy
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "ussd.lua"
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent

TARGET_RATIO = 0.60
TARGET_P99_MS = 25.0
HOPS_PER_JOURNEY = 9
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def _env_int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _env_float(name: str, default: float) -> float:
    return float(_env(name, str(default)))


def say(msg: str = "") -> None:
    print(msg, flush=True)


@dataclass(frozen=True)
class Settings:
    """The environment bench.ussd and bench.survey both read (see the docstring)."""

    db_url: str
    redis_url: str
    seconds: int
    rounds: int
    open_seconds: int
    open_fraction: float
    open_rate: float
    port: int

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            db_url=_env(
                "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ngazi_bench"
            ),
            redis_url=_env("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1"),
            seconds=_env_int("BENCH_SECONDS", 15),
            rounds=_env_int("BENCH_ROUNDS", 2),
            open_seconds=_env_int("BENCH_OPEN_SECONDS", 60),
            open_fraction=_env_float("BENCH_OPEN_FRACTION", 0.5),
            open_rate=_env_float("BENCH_OPEN_RATE", 0.0),
            port=_env_int("BENCH_PORT", 0) or free_port(),
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def begin() -> Settings:
    """What a benchmark does first: stop cleanly on SIGTERM, check that wrk is there,
    read the shared settings."""
    signal.signal(signal.SIGTERM, _terminate)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    return Settings.from_env()


# -- CPU accounting ----------------------------------------------------------------


def _proc_stat(pid: int | str) -> tuple[str, int, list[int]] | None:
    """(comm, ppid, [utime, stime, cutime, cstime]) in clock ticks, or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    rest = raw[raw.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): utime is field 14, so rest[11]
    return comm, int(rest[1]), [int(x) for x in rest[11:15]]


def server_cpu(master: int) -> tuple[float, float]:
    """(user, system) CPU seconds of the gunicorn master and its workers, reaped
    workers included (their time is in the master's cutime/cstime)."""
    user = system = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _proc_stat(entry)
        if st is None:
            continue
        if int(entry) == master:
            user, system = user + st[2][0] + st[2][2], system + st[2][1] + st[2][3]
        elif st[1] == master:
            user, system = user + st[2][0], system + st[2][1]
    return user / CLK_TCK, system / CLK_TCK


def services_ticks() -> dict[int, tuple[str, int]]:
    """{pid: (service, CPU ticks)} of every postgres and redis-server process on the
    machine (shared services: other clients' work shows up here too)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _proc_stat(entry)
        if st is None:
            continue
        comm = st[0]
        key = "postgres" if comm.startswith("postgres") else "redis" if "redis" in comm else ""
        if key:
            out[int(entry)] = (key, st[2][0] + st[2][1])
    return out


def services_cpu(before: dict[int, tuple[str, int]]) -> dict[str, float]:
    """CPU seconds per service since ``before`` (processes that ended meanwhile,
    such as short-lived PostgreSQL backends, are not counted)."""
    out = {"postgres": 0.0, "redis": 0.0}
    for pid, (key, ticks) in services_ticks().items():
        prev = before.get(pid)
        out[key] += (ticks - (prev[1] if prev and prev[0] == key else 0)) / CLK_TCK
    return out


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    idle = fields[3] + fields[4]
    return (total - idle) / CLK_TCK, total / CLK_TCK


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# -- one wrk run -------------------------------------------------------------------


@dataclass
class Run:
    name: str
    command: str
    connections: int
    seconds: float
    requests: int
    latency_us: dict[str, float]
    errors: dict[str, int]
    checked: dict[str, int]
    first_bad: str
    first_odd: str
    wrk_cpu: float
    server_cpu: float
    server_sys: float
    services_cpu: dict[str, float]
    machine_busy: float
    machine_total: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Requests per second; for USSD runs, hops (the /bench/hello openers not counted)."""
        n = self.requests if self.name == "hello" else self.requests - self.checked["hellos"]
        return n / self.seconds if self.seconds else 0.0

    @property
    def off_path(self) -> int:
        """Language screens and main menus missing (or extra) among the answers, beyond
        the requests still in flight when wrk stopped (at most one a connection)."""
        if self.name == "hello":
            return 0
        c, off = self.checked, 0
        for sent, seen in ((c["sent_lang"], c["seen_lang"]), (c["sent_home"], c["seen_home"])):
            missing = sent - seen
            off += -missing if missing < 0 else max(0, missing - self.connections)
        return off

    @property
    def failures(self) -> int:
        e, c = self.errors, self.checked
        return sum(e.values()) + c["bad"] + c["unexpected"] + self.off_path

    def ms(self, key: str) -> float:
        return self.latency_us[key] / 1000.0

    @property
    def other_cpu(self) -> float:
        """CPU seconds the rest of the machine used meanwhile (not gunicorn, the
        services or wrk): other people's work, the kernel's, this script's."""
        svc = self.services_cpu["postgres"] + self.services_cpu["redis"]
        return max(0.0, self.machine_busy - self.server_cpu - svc - self.wrk_cpu)

    @property
    def busy(self) -> float:
        """Share of the whole machine's CPU that was busy during the run."""
        return self.machine_busy / self.machine_total if self.machine_total else 0.0


def run_wrk(
    name: str,
    url: str,
    *,
    mode: str,
    seconds: int,
    connections: int,
    threads: int,
    ring: int,
    tag: int,
    master: int,
    think_ms: int = 0,
    profile: Path | None = None,
    script: Path = LUA,
    env_extra: dict[str, str] | None = None,
    cls: type[Run] = Run,
) -> Run:
    """One wrk run of ``script`` (bench/ussd.lua, or another script taking the same
    arguments, such as bench/survey.lua); ``ring`` callers in all, ``connections`` in
    all. ``env_extra`` is added to wrk's environment; the result is a ``cls``.

    A "prime" run is stopped (SIGINT, which makes wrk report) as soon as every wrk
    thread has printed PRIMED; ``seconds`` is then only an upper bound. With
    ``profile``, py-spy samples the gunicorn workers meanwhile into that file.
    """
    threads = max(1, min(threads, connections))
    connections -= connections % threads  # wrk gives each thread connections/threads
    # The first request on each connection of a USSD run is a /bench/hello (not
    # counted): gunicorn's gthread worker can hold a new connection's first request
    # for seconds, and a caller's hop stuck there would be overtaken by its next
    # one, which no gateway does (it waits for each answer before the caller types).
    first = connections // threads if mode == "ussd" else 0
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script.relative_to(ROOT)),
        url,
        "--",
        mode,
        str(max(1, ring // threads)),
        str(tag),
        str(first),
    ]
    env = dict(os.environ)
    env.pop("USSD_THINK_MS", None)
    if think_ms > 0:
        env["USSD_THINK_MS"] = str(think_ms)
    env.update(env_extra or {})
    shown = (f"USSD_THINK_MS={think_ms} " if think_ms > 0 else "") + shlex.join(cmd)
    say(f"  $ {shown}")
    spy = None
    if profile is not None:
        spy = subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                "--pid",
                str(master),
                "--subprocesses",
                "--gil",  # only threads holding the GIL: Python on the CPU, not waits
                "--nonblocking",
                "--rate",
                "100",
                "--duration",
                str(seconds),
                "--format",
                "raw",
                "-o",
                str(profile),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # let py-spy attach to every worker
    cpu0, srv0, svc0 = children_cpu(), server_cpu(master), services_ticks()
    busy0, tot0 = machine_cpu()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    lines: list[str] = []
    primed = 0
    try:
        for ln in proc.stdout:
            lines.append(ln.rstrip("\n"))
            if ln.startswith("PRIMED "):
                primed += 1
                if primed == threads:
                    proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if spy is not None:
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
    cpu1, srv1, svc1 = children_cpu(), server_cpu(master), services_cpu(svc0)
    busy1, tot1 = machine_cpu()
    line = next((ln for ln in lines if ln.startswith("BENCH_JSON ")), None)
    if rc != 0 or line is None:
        raise SystemExit(f"wrk failed ({rc}):\n" + "\n".join(lines))
    if mode == "prime" and primed < threads:
        raise SystemExit(f"priming did not finish within {seconds} s: raise it")
    doc = json.loads(line.removeprefix("BENCH_JSON "))
    run = cls(
        name=name,
        command=shown,
        connections=connections,
        seconds=doc["duration_us"] / 1e6,
        requests=doc["requests"],
        latency_us=doc["latency_us"],
        errors=doc["errors"],
        checked=doc["checked"],
        first_bad=doc["first_bad"],
        first_odd=doc["first_odd"],
        wrk_cpu=cpu1 - cpu0,
        server_cpu=sum(srv1) - sum(srv0),
        server_sys=srv1[1] - srv0[1],
        services_cpu=svc1,
        machine_busy=busy1 - busy0,
        machine_total=tot1 - tot0,
    )
    unit = "req/s " if mode == "hello" else "hops/s"
    say(
        f"    {run.rate:7.0f} {unit}  p50 {run.ms('p50'):6.1f} ms  p99 {run.ms('p99'):6.1f} ms"
        f"  failures {run.failures}  CPU: wrk {run.wrk_cpu:.1f} s,"
        f" server {run.server_cpu:.1f} s, machine busy {run.busy:.0%}"
    )
    if run.failures:
        say(
            f"    errors {run.errors}  checked {run.checked}  off path {run.off_path}"
            f"  first bad: {run.first_bad!r}  first unexpected: {run.first_odd!r}"
        )
    return run


# -- profile -----------------------------------------------------------------------


def _frame(raw: str) -> tuple[str, str]:
    """("function", "module/path.py") of a py-spy frame "function (path:line)"."""
    fn, _, rest = raw.rpartition(" (")
    path = rest.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", f"{ROOT}/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/lib/python3.":
                path = "stdlib/" + path.split("/", 1)[1]
    return (fn or raw), path


def summarize_profile(path: Path, cpu_ms_per_hop: float, top: int = 25) -> str:
    """Where the workers' Python time goes, from py-spy's raw (collapsed) output:
    share of samples by module of the innermost frame, and the functions with the
    largest inclusive share, each also as ms of worker CPU per hop."""
    inclusive: dict[tuple[str, str], int] = {}
    by_module: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += n
        for f in set(frames):
            inclusive[f] = inclusive.get(f, 0) + n
        mod = frames[-1][1]
        mod = mod.split("/")[0] if not mod.startswith("stdlib/") else mod.split("/")[1]
        by_module[mod] = by_module.get(mod, 0) + n
    if not total:
        return "  (no samples: is py-spy allowed to ptrace?)"

    def ms(n: int) -> str:
        return f"{100 * n / total:5.1f}%  {cpu_ms_per_hop * n / total:5.3f} ms"

    out = [
        f"  {total} samples of workers holding the GIL; ms = share x {cpu_ms_per_hop:.2f} ms,"
        " the workers' user CPU per hop measured without the profiler",
        "  by module (innermost frame):",
    ]
    for mod, n in sorted(by_module.items(), key=lambda kv: -kv[1])[:12]:
        out.append(f"    {ms(n)}  {mod.removesuffix('.py')}")
    out.append("  by function, inclusive:")
    skip = ("threading.py", "concurrent/futures/thread.py")
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])
    shown = 0
    for (fn, mod), n in ranked:
        if any(mod.endswith(x) for x in skip) or fn == "<module>":
            continue
        out.append(f"    {ms(n)}  {fn} ({mod})")
        shown += 1
        if shown >= top:
            break
    return "\n".join(out)


# -- setup -------------------------------------------------------------------------


def prepare_database(url: str) -> None:
    """Drop and re-create the benchmark database, so every run starts alike."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    name = u.database or ""
    if not u.drivername.startswith("postgresql") or "bench" not in name:
        raise SystemExit(f"BENCH_DATABASE_URL must name a PostgreSQL database *bench*: {url}")
    admin = u.set(drivername="postgresql", database="postgres")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def prepare_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def prepare(db_url: str, redis_url: str) -> None:
    """A fresh benchmark database, migrated, with the demo data; an empty Redis."""
    prepare_database(db_url)
    prepare_redis(redis_url)
    flask(["migrate"])
    flask(["demo", "load"])


def pg_conninfo(db_url: str) -> str:
    """psycopg's connection string for a SQLAlchemy URL (postgresql+psycopg://...)."""
    from sqlalchemy.engine import make_url

    return make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)


def add_subscribers(cur: Any, numbers: list[str], prefix: str) -> list[tuple[int, str]]:
    """Insert ``numbers`` as subscribers who chose English, through the psycopg cursor
    ``cur``; return (id, msisdn) of every subscriber whose number starts ``prefix``."""
    cur.executemany(
        "INSERT INTO subscriber (msisdn, language, opted_out, first_seen)"
        " VALUES (%s, 'en', false, now())",
        [(n,) for n in numbers],
    )
    cur.execute("SELECT id, msisdn FROM subscriber WHERE msisdn LIKE %s", (prefix + "%",))
    return list(cur.fetchall())


def cache_languages(redis_url: str, subscribers: list[tuple[int, str]]) -> None:
    """The session store's cache of each (id, msisdn) subscriber's language, as for
    anyone who dialled in the last week."""
    import redis

    from menus.session import CALLER_PREFIX, CALLER_TTL

    client = redis.Redis.from_url(redis_url)
    pipe = client.pipeline(transaction=False)
    for sid, msisdn in subscribers:
        pipe.set(CALLER_PREFIX + msisdn, f"{sid}:en", ex=CALLER_TTL)
    pipe.execute()
    client.close()


def register_returning_callers(db_url: str, redis_url: str, threads: int, pool: int) -> int:
    """Make the returning callers of ``bench/ussd.lua`` known, as they are in steady
    state: a subscriber row with a language, and the session store's cache of it
    (a caller who dialled in the last week). Returns how many."""
    import psycopg

    numbers = [f"+25410{tid:02d}{p:05d}" for tid in range(threads) for p in range(pool)]
    with psycopg.connect(pg_conninfo(db_url)) as conn, conn.cursor() as cur:
        ids = add_subscribers(cur, numbers, "+25410")
    cache_languages(redis_url, ids)
    return len(ids)


def flask(args: list[str]) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise SystemExit(f"gunicorn not healthy at {url}/healthz after {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the master (graceful), then SIGKILL its process group if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


BENCH_WEBHOOK_TOKEN = "bench-webhook-token"


def configure_server(db_url: str, redis_url: str, port: int, **extra: str) -> str:
    """The server's settings, put in this process's environment (gunicorn and wrk
    inherit it): the deploy config, with what the benchmark needs on top and
    ``extra``. Returns a description of the server."""
    os.environ.update(
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        NGAZI_BENCH_ENDPOINT="1",
        WEBHOOK_TOKEN=BENCH_WEBHOOK_TOKEN,  # wrk's scripts send it (common.callback)
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_CONTROL_SOCKET="0",  # no control socket under $HOME
        GUNICORN_MAX_REQUESTS="0",  # no worker recycling mid-run
        GUNICORN_LOGLEVEL=_env("GUNICORN_LOGLEVEL", "warning"),
        **extra,
    )
    conf = runpy.run_path(str(GUNICORN_CONF))
    return (
        f"gunicorn {conf['worker_class']}, {conf['workers']} workers x {conf['threads']}"
        f" threads, keepalive {conf['keepalive']} s"
    )


@contextmanager
def gunicorn(base: str, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Ngazi under gunicorn (``deploy/gunicorn.conf.py``), its output in ``log_path``:
    yields the master's process once it answers at ``base``, and stops it after."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(GUNICORN_CONF), "wsgi:app"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_healthy(base, proc)
        yield proc
    finally:
        stop(proc)


# -- what both benchmarks run and report -------------------------------------------


def interleaved(
    rounds: int,
    seconds: int,
    one: Callable[[str, str, int, int], Run],
    *,
    name: str,
    priming: str,
    measuring: str,
) -> dict[str, list[Run]]:
    """The saturating runs: ``rounds`` rounds of a prime run (``priming``: who), the
    ceiling and the measured USSD run (``name``; ``measuring``: what), round r with
    tag r. ``one(name, mode, tag, seconds)`` makes one run."""
    runs: dict[str, list[Run]] = {"prime": [], "hello": [], name: []}
    for r in range(1, rounds + 1):
        warm = " (also the warm-up)" if r == 1 else ""
        say(f"  round {r}: prime {priming}{warm}")
        runs["prime"].append(one("prime", "prime", r, 600))
        say(f"  round {r}: ceiling, POST /bench/hello")
        runs["hello"].append(one("hello", "hello", r, seconds))
        say(f"  round {r}: {measuring}, POST /ussd")
        runs[name].append(one(name, "ussd", r, seconds))
    return runs


def open_load(
    settings: Settings, best: float, connections: int, callers: int, who: str
) -> tuple[int, dict[str, Any]]:
    """The realistic run's offered load, from the best saturating rate ``best``: the
    mean think time in ms and the run's ``extra`` (the rate offered...); says it."""
    rate = settings.open_rate or settings.open_fraction * best
    # Each connection sends a hop after an exponentially distributed think time:
    # together they offer connections / think hops per second, and each of the
    # callers in the ring answers a screen every callers / rate seconds.
    think_ms = max(1, round(1000 * connections / rate))
    say(
        f"realistic: {callers} {who}, each answering a screen every"
        f" {callers / rate:.1f} s, over {connections} connections with"
        f" {think_ms} ms mean think time: {rate:.0f} hops/s offered for"
        f" {settings.open_seconds} s"
    )
    extra = {
        "offered_rate": rate,
        "think_ms": think_ms,
        "callers": callers,
        "fraction_of_max": rate / best if best else 0.0,
    }
    return think_ms, extra


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def say_ceiling(hello: Run) -> None:
    say(
        f"  ceiling  POST /bench/hello {hello.rate:7.0f} req/s   "
        f"p50 {hello.ms('p50'):5.1f} ms  p99 {hello.ms('p99'):6.1f} ms"
    )


def say_realistic(open_run: Run, who: str, achieved: str = "") -> None:
    """The realistic run's heading and load; ``achieved`` follows the rate achieved."""
    extra = open_run.extra
    say(
        f"Realistic ({extra['callers']} {who} over {open_run.connections}"
        f" connections, {extra['think_ms']} ms mean think time per connection):"
    )
    say(
        f"  offered {extra['offered_rate']:.0f} hops/s ({extra['fraction_of_max']:.2f} x max),"
        f" achieved {open_run.rate:.0f} hops/s{achieved}"
    )


def say_cpu(
    runs: list[tuple[str, Run]], *, services_per_request: bool = False, unbound: str = ""
) -> list[str]:
    """The table of CPU seconds used during each (label, run): postgres and redis in
    seconds, or with ``services_per_request`` in ms per request. Then a warning for
    each saturating run (all but the last, the realistic one) that did not keep the
    machine busy (``unbound`` added to it), and one naming the runs others disturbed,
    whose labels it returns."""
    say("CPU seconds used during each run (per request in brackets):")
    say(
        f"  {'run':10s} {'gunicorn':>20s} {'sys':>4s} {'postgres':>8s} {'redis':>6s}"
        f" {'wrk (load generator)':>27s} {'other':>6s} {'busy':>5s}"
    )
    noisy = []
    for label, r in runs:
        per = 1000.0 / r.requests if r.requests else 0.0
        svc = r.services_cpu
        wrk = f"{r.wrk_cpu:.1f} ({r.wrk_cpu * per:.3f} ms, {r.wrk_cpu / r.seconds:.0%} of a core)"
        services = (
            f"{svc['postgres'] * per:8.3f} {svc['redis'] * per:6.3f}"
            if services_per_request
            else f"{svc['postgres']:8.1f} {svc['redis']:6.1f}"
        )
        say(
            f"  {label:10s} {r.server_cpu:6.1f} ({r.server_cpu * per:.2f} ms/req)"
            f" {r.server_sys / r.server_cpu if r.server_cpu else 0:4.0%}"
            f" {services} {wrk:>27s} {r.other_cpu:6.1f} {r.busy:5.0%}"
        )
        if r.other_cpu > 0.1 * r.machine_total:
            noisy.append(label)
    if services_per_request:
        say("  (postgres and redis: ms of CPU per request)")
    for label, r in runs[:-1]:
        if r.busy < 0.9:
            say(
                f"  NOT CPU-BOUND: the machine was only {r.busy:.0%} busy during the {label} run"
                + unbound
            )
    if noisy:
        say(
            f"  NOISY: other processes took over 10% of the machine during {', '.join(noisy)};"
            " run again on a quiet machine before trusting these figures"
        )
    return noisy


def say_failures(runs: list[Run], *, off_path: bool = True) -> int:
    """The failures of all ``runs``, in all and by run (with ``off_path``, the
    screens off path too), and the closing rule; returns how many."""
    failures = sum(r.failures for r in runs)
    say(f"Failures: {failures} (socket errors, non-200, bad bodies, journeys off their path)")
    for r in runs:
        if r.failures:
            off = f" off path {r.off_path}" if off_path else ""
            say(
                f"  {r.name}: errors {r.errors} checked {r.checked}{off}"
                f" first bad {r.first_bad!r} first unexpected {r.first_odd!r}"
            )
    say("=" * 78)
    return failures


def fastest(runs: dict[str, Any], name: str) -> tuple[Run, Run, float]:
    """The fastest ceiling run, the fastest of ``runs[name]`` and their ratio."""
    hello: Run = max(runs["hello"], key=lambda r: r.rate)
    top: Run = max(runs[name], key=lambda r: r.rate)
    return hello, top, top.rate / hello.rate if hello.rate else 0.0


def write_results(
    name: str,
    doc: dict[str, Any],
    *,
    started: datetime,
    cores: int,
    server: str,
    log_path: Path,
) -> None:
    """``doc`` as bench/results/<name>-<started>.json, after when, where and on what
    server it ran and before the server log's path."""
    out = RESULTS / f"{name}-{started:%Y%m%dT%H%M%S}.json"
    doc = {
        "started": started.isoformat(),
        "cores": cores,
        "server": server,
        **doc,
        "gunicorn_log": str(log_path.relative_to(ROOT)),
    }
    out.write_text(json.dumps(doc, indent=2, default=str))
    say(f"results: {out.relative_to(ROOT)}; server log: {log_path.relative_to(ROOT)}")


# -- the benchmark -----------------------------------------------------------------


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through ``finally``: gunicorn is stopped


def main() -> int:
    settings = begin()
    connections = _env_int("BENCH_CONNECTIONS", 64)
    threads = _env_int("BENCH_WRK_THREADS", 2)
    new_every = _env_int("BENCH_NEW_EVERY", 10)
    pool = _env_int("BENCH_POOL", 5000)
    open_callers = _env_int("BENCH_OPEN_CALLERS", 2000)
    open_connections = _env_int("BENCH_OPEN_CONNECTIONS", 100)
    if not 1 <= settings.rounds <= 7:
        raise SystemExit("BENCH_ROUNDS must be 1 to 7 (each ring needs its own phone-number tag)")
    profile = None
    if _env("BENCH_PROFILE", "0") == "1":
        if not (BIN / "py-spy").exists():
            raise SystemExit("BENCH_PROFILE=1 needs py-spy: .venv/bin/pip install py-spy")
        profile = RESULTS / f"profile-{datetime.now(UTC):%Y%m%dT%H%M%S}.txt"

    server = configure_server(
        settings.db_url,
        settings.redis_url,
        settings.port,
        USSD_NEW_EVERY=str(new_every),  # read by bench/ussd.lua under wrk
        USSD_POOL=str(pool),
    )
    cores = os.cpu_count() or 1
    started = datetime.now(UTC)
    say(f"Ngazi USSD benchmark, {started:%Y-%m-%d %H:%M} UTC, {cores} cores, {server}")

    say("setup: database, Redis, migrations, demo data")
    prepare(settings.db_url, settings.redis_url)
    known = register_returning_callers(settings.db_url, settings.redis_url, threads, pool)
    say(
        f"returning callers: {known} known numbers; 1 journey in {new_every} is a first-time caller"
    )

    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS / f"gunicorn-{started:%Y%m%dT%H%M%S}.log"
    with gunicorn(settings.base, log_path) as proc:
        runs = bench(
            settings,
            proc.pid,
            connections=connections,
            threads=threads,
            open_callers=open_callers,
            open_connections=open_connections,
            profile=profile,
        )
    return report(
        runs,
        started=started,
        server=server,
        cores=cores,
        log_path=log_path,
        profile_path=profile,
    )


def bench(
    settings: Settings,
    master: int,
    *,
    connections: int,
    threads: int,
    open_callers: int,
    open_connections: int,
    profile: Path | None,
) -> dict[str, Any]:
    base, seconds = settings.base, settings.seconds
    # Callers in the saturating runs: many more than connections, so a caller's
    # previous hop has long been answered when its next one goes out (a ring's
    # length of requests later: about a second at the rates seen here, several
    # times the slowest answer; with 256 a thread, a hop held up 0.2 s behind a
    # busy worker was now and then overtaken by the caller's next one).
    ring = max(1024 * threads, 32 * connections)

    def saturating(
        name: str, mode: str, tag: int, *, secs: int, callers: int, profile: Path | None = None
    ) -> Run:
        return run_wrk(
            name,
            base,
            mode=mode,
            seconds=secs,
            connections=connections,
            threads=threads,
            ring=callers,
            tag=tag,
            master=master,
            profile=profile,
        )

    say(f"saturating: {connections} connections, no think time, {seconds} s each")
    runs: dict[str, Any] = interleaved(
        settings.rounds,
        seconds,
        lambda name, mode, tag, secs: saturating(name, mode, tag, secs=secs, callers=ring),
        name="ussd",
        priming=f"{ring} callers mid-journey",
        measuring="USSD journeys",
    )

    best = max(r.rate for r in runs["ussd"])
    think_ms, extra = open_load(
        settings, best, open_connections, open_callers, "callers mid-session"
    )
    say(f"  prime {open_callers} callers mid-journey")
    runs["prime"].append(saturating("prime", "prime", 9, secs=600, callers=open_callers))
    say("  measure")
    run = run_wrk(
        "open",
        base,
        mode="ussd",
        seconds=settings.open_seconds,
        connections=open_connections,
        threads=threads,
        ring=open_callers,
        tag=9,
        master=master,
        think_ms=think_ms,
    )
    run.extra = extra
    runs["open"] = run

    if profile is not None:
        say(f"profile: the USSD run again, {seconds} s, with py-spy on the workers (not measured)")
        runs["prime"].append(saturating("prime", "prime", 8, secs=600, callers=ring))
        runs["profiled"] = saturating(
            "ussd", "ussd", 8, secs=seconds, callers=ring, profile=profile
        )
    return runs


def report(
    runs: dict[str, Any],
    *,
    started: datetime,
    server: str,
    cores: int,
    log_path: Path,
    profile_path: Path | None,
) -> int:
    hello, ussd, ratio = fastest(runs, "ussd")
    open_run: Run = runs["open"]
    p99 = open_run.ms("p99")
    all_runs: list[Run] = [*runs["prime"], *runs["hello"], *runs["ussd"], open_run]
    if "profiled" in runs:
        all_runs.append(runs["profiled"])

    say()
    say("=" * 78)
    say(f"Ngazi USSD benchmark, {started:%Y-%m-%d %H:%M} UTC, {cores} cores, {server}")
    say(f"Saturating (closed loop, {ussd.connections} connections, no think time):")
    say_ceiling(hello)
    say(
        f"  USSD     POST /ussd        {ussd.rate:7.0f} hops/s  "
        f"p50 {ussd.ms('p50'):5.1f} ms  p99 {ussd.ms('p99'):6.1f} ms"
        f"  ({ussd.checked['journeys']} journeys of {HOPS_PER_JOURNEY} hops completed)"
    )
    say(f"  ratio {ratio:.2f} (target >= {TARGET_RATIO:.2f}): {verdict(ratio >= TARGET_RATIO)}")
    say_realistic(open_run, "callers mid-session")
    say(
        f"  p50 {open_run.ms('p50'):.1f} ms  p90 {open_run.ms('p90'):.1f} ms"
        f"  p99 {p99:.1f} ms  p99.9 {open_run.ms('p999'):.1f} ms  max {open_run.ms('max'):.0f} ms"
    )
    say(f"  p99 {p99:.1f} ms (target <= {TARGET_P99_MS:.0f} ms): {verdict(p99 <= TARGET_P99_MS)}")
    noisy = say_cpu(
        [("ceiling", hello), ("USSD", ussd), ("realistic", open_run)],
        unbound=" (connections spread unevenly over the workers?); more BENCH_ROUNDS help",
    )
    profiled: Run | None = runs.get("profiled")
    if profiled is not None and profile_path is not None and profile_path.exists():
        say(f"Profile of the workers during a USSD run ({profiled.rate:.0f} hops/s under py-spy):")
        user_ms = 1000 * (ussd.server_cpu - ussd.server_sys) / ussd.requests
        say(summarize_profile(profile_path, user_ms))
        say(f"  raw stacks (flamegraph.pl input): {profile_path.relative_to(ROOT)}")
    failures = say_failures(all_runs)

    doc = {
        "ceiling_rps": hello.rate,
        "ussd_hops_per_s": ussd.rate,
        "ratio": ratio,
        "open_offered_hops_per_s": open_run.extra["offered_rate"],
        "open_hops_per_s": open_run.rate,
        "open_p50_ms": open_run.ms("p50"),
        "open_p99_ms": p99,
        "failures": failures,
        "noisy": noisy,
        "runs": [r.__dict__ for r in all_runs],
    }
    write_results("ussd", doc, started=started, cores=cores, server=server, log_path=log_path)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Console pages at national scale: ``python -m bench.console_scale`` (part of ``make bench``).

Against a database holding a synthetic population of ``BENCH_PEOPLE`` people
(``flask demo generate``: 10 provinces, 10,000 villages, 2.5 M households, two
survey rounds), Ngazi under gunicorn (``deploy/gunicorn.conf.py``), signed in
over HTTP as an administrator, it times one request at a time (no concurrency:
the time one operator waits):

- the national analytics page ``GET /console/analytics``, a province, a county
  and a village (``/console/analytics/<id>``);
- the CSV exports of every village in the country
  (``/console/analytics/export/villages.csv``) and in a province;
- the household search ``/console/households?q=<a common name>``.

Each is requested once cold (reported, not judged), then ``BENCH_SCALE_REPEAT``
times; it prints the median and the max in ms, the ratio of the median to the
ceiling (``GET /healthz``, which asks PostgreSQL and Redis, measured the same way
in the same run), the server's CPU per request, and PASS/MISS against the target:
every repetition under 1 s. Results go to ``bench/results/console_scale-<time>.json``.
It exits 1 only on failures (a page not answering 200, a CSV short of rows), not
when a target is missed; a page not there yet (404) is a failure, named as such.

Setup: the database is kept between runs, since generating it takes minutes. It
is created and migrated when missing; the population is generated when the
database holds none of ``BENCH_PEOPLE`` people (``--replace`` when it holds one
of another size), and the area statistics are refreshed when missing. A bench
administrator (``bench-scale``) gets a new random password each run. Redis
``BENCH_SCALE_REDIS_URL`` is flushed at the start.

Environment (defaults in brackets): ``BENCH_SCALE_DATABASE_URL``
[postgresql+psycopg://postgres@127.0.0.1:5432/ngazi_bench_scale] (the name must
contain "bench"); ``BENCH_SCALE_REDIS_URL`` [redis://127.0.0.1:6379/3];
``BENCH_PEOPLE`` [10000000]; ``BENCH_SCALE_REPEAT`` [7]; ``BENCH_SCALE_QUERY``
[wanjiru]; ``BENCH_PORT``, ``GUNICORN_*`` as in bench.ussd.
"""

from __future__ import annotations

import os
import re
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import requests
from sqlalchemy.engine import make_url

from bench.ussd import (
    BIN,
    RESULTS,
    ROOT,
    _env,
    _env_int,
    configure_server,
    free_port,
    gunicorn,
    pg_conninfo,
    prepare_redis,
    say,
    server_cpu,
    verdict,
    write_results,
)

TARGET_MS = 1000.0
ADMIN = "bench-scale"


@dataclass
class Timing:
    """One page's requests: ``ms`` of the timed repetitions, ``first`` the cold one."""

    label: str
    path: str
    status: int
    first: float
    ms: list[float]
    bytes: int
    cpu_ms: float  # gunicorn CPU per timed request
    problem: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.ms) if self.ms else 0.0

    @property
    def max(self) -> float:
        return max(self.ms) if self.ms else 0.0


def _sql(db_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_conninfo(db_url)) as conn:
        return list(conn.execute(sql, args or None).fetchall())  # type: ignore[arg-type]


def ensure_database(db_url: str) -> None:
    """Create the benchmark database when missing (never drop it: it is reused)."""
    url = make_url(db_url)
    name = url.database or ""
    if not url.drivername.startswith("postgresql") or "bench" not in name:
        raise SystemExit(
            f"BENCH_SCALE_DATABASE_URL must name a PostgreSQL database *bench*: {db_url}"
        )
    admin = url.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            say(f"setup: creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def flask(*args: str) -> str:
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "app", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    out = "\n".join(
        line for line in (done.stdout + done.stderr).splitlines() if "SECRET_KEY" not in line
    )
    if done.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed ({done.returncode}):\n{out}")
    return out


def ensure_population(db_url: str, people: int) -> dict[str, Any]:
    """Generate the population unless it is there; refresh missing statistics."""
    from domain import synthetic

    want = synthetic.plan(people, 1).households
    found = _sql(
        db_url,
        "SELECT count(*) FROM household h JOIN area v ON v.id = h.area_id"
        " WHERE v.name LIKE 'Synthetic Village %'",
    )[0][0]
    info: dict[str, Any] = {"households": found, "generated": False}
    if found != want:
        args = ["demo", "generate", "--people", str(people)]
        if found:
            args.append("--replace")
        say(f"setup: generating {people:,} people ({want:,} households; found {found:,}): minutes")
        started = time.monotonic()
        out = flask(*args)
        info.update(generated=True, seconds=time.monotonic() - started, output=out)
        say("  " + out.replace("\n", "\n  "))
        info["households"] = want
    else:
        say(f"setup: reusing the synthetic population ({found:,} households)")
    stored = _sql(
        db_url,
        "SELECT count(*) FROM area_statistic a JOIN survey_round r ON r.id = a.round_id"
        " WHERE r.name LIKE 'synthetic-%'",
    )[0][0]
    if not stored:
        say("setup: no area statistics for the synthetic rounds: refreshing them")
        say("  " + flask("analytics", "refresh"))
    return info


def run_python(code: str) -> None:
    """``code`` in an app context with ``db`` the session (the bench's environment)."""
    script = (
        "from app import create_app\nfrom app.db import db_session\n"
        "app = create_app()\nwith app.app_context():\n    db = db_session()\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
    )
    subprocess.run([str(BIN / "python"), "-c", script], cwd=ROOT, check=True)


def ensure_admin() -> str:
    """The bench administrator, with a new random password; returns it."""
    password = secrets.token_urlsafe(18)
    run_python(
        "from domain import console_users as cu\nfrom models import ConsoleRole\n"
        f"user = cu.find_user(db, {ADMIN!r})\n"
        "if user is None:\n"
        f"    user = cu.create_user(db, username={ADMIN!r}, name='Bench Admin',"
        f" password={password!r}, role=ConsoleRole.ADMIN)\n"
        f"cu.set_password(user, {password!r})\nuser.active = True\ndb.commit()"
    )
    return password


def sign_in(base: str, password: str) -> requests.Session:
    client = requests.Session()
    page = client.get(f"{base}/console/login", timeout=30)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    if page.status_code != 200 or match is None:
        raise SystemExit(f"sign-in form: {page.status_code}, no CSRF token")
    answer = client.post(
        f"{base}/console/login",
        data={"csrf_token": match.group(1), "username": ADMIN, "password": password},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302:
        raise SystemExit(f"sign-in refused: {answer.status_code}")
    return client


def targets(db_url: str, query: str) -> tuple[int, list[tuple[str, str]]]:
    """The newest synthetic round's id and the (label, path) of every page timed."""
    round_id = _sql(db_url, "SELECT id FROM survey_round WHERE name = 'synthetic-2026'")[0][0]
    province = _sql(
        db_url,
        "SELECT id FROM area WHERE parent_id IS NULL AND name LIKE 'Synthetic Province %'"
        " ORDER BY name LIMIT 1",
    )[0][0]
    county = _sql(
        db_url, "SELECT id FROM area WHERE parent_id = %s ORDER BY name LIMIT 1", province
    )
    village = _sql(
        db_url, "SELECT id FROM area WHERE parent_id = %s ORDER BY name LIMIT 1", county[0][0]
    )
    r = f"round={round_id}"
    return round_id, [
        ("national", f"/console/analytics?{r}"),
        ("province", f"/console/analytics/{province}?{r}"),
        ("county", f"/console/analytics/{county[0][0]}?{r}"),
        ("village", f"/console/analytics/{village[0][0]}?{r}"),
        ("CSV, all villages", f"/console/analytics/export/villages.csv?{r}"),
        ("CSV, a province's", f"/console/analytics/{province}/export/villages.csv?{r}"),
        ("household search", f"/console/households?q={query}"),
    ]


def measure(
    client: requests.Session, base: str, label: str, path: str, repeat: int, master: int
) -> Timing:
    def one() -> tuple[int, float, int]:
        started = time.perf_counter()
        answer = client.get(base + path, timeout=120, allow_redirects=False)
        return answer.status_code, 1000 * (time.perf_counter() - started), len(answer.content)

    status, first, size = one()
    cpu0 = sum(server_cpu(master))
    ms = []
    for _ in range(repeat):
        got, took, size = one()
        status = got if got != 200 else status
        ms.append(took)
    cpu = 1000 * (sum(server_cpu(master)) - cpu0) / max(1, repeat)
    problem = ""
    if status == 404:
        problem = "404: the page is not there (yet)"
    elif status != 200:
        problem = f"HTTP {status}"
    return Timing(label, path, status, first, ms, size, cpu, problem)


def check_csv(client: requests.Session, base: str, timing: Timing, villages: int) -> None:
    """A villages CSV has a header and one row per village (small cells are
    suppressed, not rows)."""
    if timing.problem:
        return
    rows = client.get(base + timing.path, timeout=120).text.count("\n") - 1
    if rows < villages:
        timing.problem = f"{rows:,} rows for {villages:,} villages"


def main() -> int:
    db_url = _env(
        "BENCH_SCALE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ngazi_bench_scale"
    )
    redis_url = _env("BENCH_SCALE_REDIS_URL", "redis://127.0.0.1:6379/3")
    people = _env_int("BENCH_PEOPLE", 10_000_000)
    repeat = _env_int("BENCH_SCALE_REPEAT", 7)
    query = _env("BENCH_SCALE_QUERY", "wanjiru")
    port = _env_int("BENCH_PORT", 0) or free_port()
    base = f"http://127.0.0.1:{port}"
    server = configure_server(db_url, redis_url, port)
    started = datetime.now(UTC)
    cores = os.cpu_count() or 1
    say(f"Ngazi console at scale, {started:%Y-%m-%d %H:%M} UTC, {cores} cores, {server}")

    ensure_database(db_url)
    flask("migrate")
    setup = ensure_population(db_url, people)
    prepare_redis(redis_url)
    password = ensure_admin()
    size = _sql(db_url, "SELECT pg_size_pretty(pg_database_size(current_database()))")[0][0]
    villages = _sql(db_url, "SELECT count(*) FROM area WHERE level = 'village'")[0][0]
    province_villages = _sql(
        db_url,
        "SELECT count(*) FROM area v JOIN area c ON c.id = v.parent_id JOIN area p"
        " ON p.id = c.parent_id WHERE p.parent_id IS NULL AND p.name LIKE 'Synthetic Province %'"
        " GROUP BY p.name ORDER BY p.name LIMIT 1",
    )[0][0]
    say(f"database: {size}, {setup['households']:,} synthetic households, {villages:,} villages")

    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS / f"gunicorn-scale-{started:%Y%m%dT%H%M%S}.log"
    round_id, pages = targets(db_url, query)
    with gunicorn(base, log_path) as proc:
        client = sign_in(base, password)
        ceiling = measure(client, base, "ceiling", "/healthz", repeat, proc.pid)
        timings = [measure(client, base, label, path, repeat, proc.pid) for label, path in pages]
        check_csv(client, base, timings[4], villages)
        check_csv(client, base, timings[5], province_villages)
    return report(
        ceiling,
        timings,
        started=started,
        cores=cores,
        server=server,
        log_path=log_path,
        extra={"people": people, "database_size": size, "round_id": round_id, **setup},
    )


def report(
    ceiling: Timing,
    timings: list[Timing],
    *,
    started: datetime,
    cores: int,
    server: str,
    log_path: Any,
    extra: dict[str, Any],
) -> int:
    say()
    say("=" * 78)
    say(
        f"Console at scale ({extra['people']:,} people, {extra['database_size']}),"
        f" one request at a time, {len(ceiling.ms)} repetitions each"
    )
    say(
        f"  {'page':20s} {'status':>6s} {'cold':>8s} {'median':>8s} {'max':>8s} {'ratio':>7s}"
        f" {'CPU/req':>8s} {'bytes':>10s}"
    )
    for t in [ceiling, *timings]:
        ratio = t.median / ceiling.median if ceiling.median else 0.0
        judged = (
            ""
            if t is ceiling
            else (f"  FAIL {t.problem}" if t.problem else f"  {verdict(t.max < TARGET_MS)}")
        )
        say(
            f"  {t.label:20s} {t.status:6d} {t.first:7.1f}  {t.median:7.1f}  {t.max:7.1f}"
            f" {ratio:7.1f} {t.cpu_ms:7.1f}  {t.bytes:10,d}{judged}"
        )
    say(
        f"  (ms; ratio = median / the ceiling's median; target: every repetition under"
        f" {TARGET_MS:.0f} ms; cold = the first request, not judged)"
    )
    failures = [t for t in timings if t.problem]
    say(
        f"Failures: {len(failures)}"
        + "".join(f"\n  {t.label} {t.path}: {t.problem}" for t in failures)
    )
    say("=" * 78)
    doc = {
        **{k: v for k, v in extra.items() if k != "output"},
        "ceiling": asdict(ceiling),
        "pages": [asdict(t) for t in timings],
        "failures": len(failures),
    }
    write_results(
        "console_scale", doc, started=started, cores=cores, server=server, log_path=log_path
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

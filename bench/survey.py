"""Household-survey load benchmark: ``python -m bench.survey`` (``make bench`` runs it
after ``bench.ussd``).

Many cadres, each with its own number registered beforehand (a language, a PIN,
two demo villages), survey five-member households over USSD against Ngazi under
gunicorn (``deploy/gunicorn.conf.py``), real PostgreSQL and Redis, driven by
Debian's ``wrk`` and ``bench/survey.lua``. A journey is one USSD session: dial
(main menu) -> 8 Staff -> PIN (argon2) -> 2 New household -> one answer per hop
(about 72 for five members) -> "Household saved". The households vary (ages, water,
toilet, fuel, food security, assets...): generated here from ``tests.factories``,
turned into keys with ``tests.survey_screens.keypresses`` and written to a file
the Lua script reads.

1. saturating (closed loop, no think time): ``POST /bench/hello`` (the ceiling: same
   server, same wrk set-up, the same request bodies, no work) and the survey,
   interleaved, ``BENCH_ROUNDS`` rounds, the best of each;
2. realistic: cadres mid-survey together offering half the measured maximum
   (open loop, approximated as in bench.ussd); p50/p99 by kind of hop: the PIN
   hop (argon2 by design) reported apart, every other hop against the 25 ms target;
3. after the runs, PostgreSQL is checked: one ``household_survey`` row per journey
   that saw "Household saved" (a journey whose last hop was still in flight when
   wrk stopped may or may not be stored), none twice, none unaccounted for, and no
   ``survey_draft`` left behind by a completed journey;
4. in-process: ``classify`` + ``classification_columns`` per household, timed
   over ``BENCH_CLASSIFY`` generated households, also as a ratio of figures from
   the same run.

One connection per wrk thread (``-t`` = ``-c``): each thread has one request in
flight, so the Lua script knows which hop each answer belongs to, checks it is
exactly the screen expected and times it by kind (see bench/survey.lua).

It exits 1 when any request failed or went off its path, or the PostgreSQL
check fails; not when a target is missed.

Environment (defaults in brackets); ``BENCH_DATABASE_URL``, ``BENCH_REDIS_URL``,
``BENCH_SECONDS`` [15], ``BENCH_ROUNDS`` [2], ``BENCH_OPEN_SECONDS`` [60],
``BENCH_OPEN_FRACTION`` [0.5], ``BENCH_OPEN_RATE``, ``BENCH_PORT`` and ``GUNICORN_*``
as in bench.ussd, and:

* ``BENCH_SURVEY_CONNECTIONS`` [24] saturating runs (= wrk threads);
  ``BENCH_SURVEY_RING`` [12] cadres per connection (288 cadres)
* ``BENCH_SURVEY_OPEN_CONNECTIONS`` [40] realistic run; ``BENCH_SURVEY_OPEN_RING`` [8]
  cadres per connection (320 cadres)
* ``BENCH_SURVEY_HOUSEHOLDS`` [200] different households in the file
* ``BENCH_CLASSIFY`` [10000] households classified in-process

A full run takes about six minutes (priming is slow: argon2); a quick one about four:
``BENCH_ROUNDS=1 BENCH_SECONDS=5 BENCH_OPEN_SECONDS=10 .venv/bin/python -m bench.survey``.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.ussd import (
    RESULTS,
    ROOT,
    TARGET_P99_MS,
    TARGET_RATIO,
    Run,
    Settings,
    _env_int,
    add_subscribers,
    begin,
    cache_languages,
    configure_server,
    fastest,
    gunicorn,
    interleaved,
    open_load,
    pg_conninfo,
    prepare,
    run_wrk,
    say,
    say_ceiling,
    say_cpu,
    say_failures,
    say_realistic,
    verdict,
    write_results,
)

LUA = ROOT / "bench" / "survey.lua"
PIN = "2468"
MEMBERS = 5
KINDS = ("dial", "staff", "pin", "new", "answer", "save")
KIND_LABELS = {
    "dial": "dial (main menu)",
    "staff": "8 Staff (PIN screen)",
    "pin": "PIN (argon2; staff menu)",
    "new": "2 New household (Q1)",
    "answer": "an answer (next question)",
    "save": "last answer (Household saved)",
}


class SurveyRun(Run):
    """A run of bench/survey.lua: every answer was checked against the screen
    expected, so there is no count of screens to reconcile."""

    @property
    def off_path(self) -> int:
        return 0

    @property
    def failures(self) -> int:
        e, c = self.errors, self.checked
        return sum(e.values()) + c["bad"] + c["unexpected"] + c.get("lost", 0)


# -- households ----------------------------------------------------------------------


def _choices(form: Any, name: str) -> list[str]:
    q = next(q for q in form.children if getattr(q, "name", None) == name)
    return [c.name for c in q.choices]


def make_households(form: Any, n: int, seed: int = 2026) -> list[dict[str, Any]]:
    """``n`` five-member households, varied: ages (so which questions each member
    gets), water, toilet, fuel, housing, food security, assets, income."""
    from domain import classification as cl
    from tests.factories import household, member

    rng = random.Random(seed)
    pick = {
        name: _choices(form, name)
        for name in (
            "water_source",
            "toilet",
            "cooking_fuel",
            "floor",
            "roof",
            "walls",
            "income",
            "hardship",
        )
    }
    small = sorted(cl.SMALL_ASSETS | {"car"})
    names = ["Akinyi", "Otieno", "Atieno", "Ochieng", "Wanjiru", "Kamau", "Achieng", "Baraka"]
    out = []
    for _ in range(n):
        ages = [
            rng.randint(20, 80),
            rng.randint(18, 75),
            rng.randint(6, 17),
            rng.randint(0, 12),
            rng.choice([rng.randint(0, 5), rng.randint(60, 95)]),
        ]
        people = []
        for age in ages:
            extra: dict[str, Any] = {
                "m_name": rng.choice(names),
                "m_sex": rng.choice(["female", "male"]),
                "m_disability": "yes" if rng.random() < 0.1 else "no",
                "m_chronic": "yes" if rng.random() < 0.15 else "no",
                "m_insured": "yes" if rng.random() < 0.6 else "no",
            }
            if 6 <= age <= 15:
                extra["m_in_school"] = "yes" if rng.random() < 0.85 else "no"
            if age >= 6:
                extra["m_schooling"] = rng.randint(0, min(age - 6, 12))
            if age < 70:
                extra["m_undernourished"] = "yes" if rng.random() < 0.1 else "no"
            if 16 <= age <= 64:
                extra["m_can_work"] = "yes" if rng.random() < 0.8 else "no"
                extra["m_away"] = "yes" if rng.random() < 0.1 else "no"
            people.append(member(age, **extra))
        assets = rng.sample(small, rng.randint(0, 3)) or ["none"]
        has_phone = "yes" if rng.random() < 0.8 else "no"
        answers = household(
            *people,
            head_name="@",  # bench/survey.lua puts a unique name here
            has_phone=has_phone,
            head_phone=f"+2547{rng.randint(10_000_000, 99_999_999)}",
            child_died="yes" if rng.random() < 0.1 else "no",
            **{item: ("yes" if rng.random() < 0.3 else "no") for item in cl.FIES_ITEMS},
            meals=rng.randint(1, 3),
            water_minutes=rng.randint(0, 90),
            water_treated=rng.choice(["yes", "no"]),
            toilet_shared=rng.choice(["yes", "no"]),
            electricity=rng.choice(["yes", "no"]),
            house_safe=rng.choice(["yes", "no"]),
            clothing=rng.choice(["yes", "no"]),
            assets=sorted(assets),
            **{k: rng.choice(v) for k, v in pick.items()},
        )
        if has_phone == "no":
            answers.pop("head_phone")
        answers["village"] = rng.choice(["1", "2"])  # the cadre's first or second village
        out.append(answers)
    return out


def households_file(form: Any, households: list[dict[str, Any]], path: Path) -> list[int]:
    """Write each household's keypresses, tab-separated, one a line; return the
    number of answers of each."""
    from tests.survey_screens import keypresses

    villages = [(1, "first"), (2, "second")]  # answers["village"] is "1" or "2"
    lengths = []
    with path.open("w") as f:
        for answers in households:
            keys = keypresses(form, answers, villages)
            if any("\t" in k or "\n" in k or "*" in k for k in keys):
                raise SystemExit(f"a key the gateway cannot carry: {keys}")
            f.write("\t".join(keys) + "\n")
            lengths.append(len(keys))
    return lengths


def classification_timing(form: Any, households: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """µs per household of ``classify`` + ``classification_columns``, in-process,
    over ``n`` households (the generated ones, cycled, as ``complete_survey``
    passes them: through ``surveys.finished``); the best of three passes."""
    from domain import surveys
    from domain.classification import classify
    from domain.households import classification_columns

    ready = []
    for i in range(n):
        answers = dict(households[i % len(households)])
        answers["head_name"] = f"HH {i}"
        ready.append(surveys.finished(form, answers))
    passes = []
    for _ in range(3):
        t0 = time.perf_counter()
        for answers in ready:
            classification_columns(classify(answers), answers)
        passes.append(time.perf_counter() - t0)
    best = min(passes)
    return {
        "households": n,
        "us_per_household": 1e6 * best / n,
        "passes_s": passes,
    }


# -- cadres ----------------------------------------------------------------------------


def register_cadres(db_url: str, redis_url: str, count: int) -> int:
    """``count`` cadres +2541100NNNNN "Bench cadre NNNNN", PIN ``PIN`` (hashed once by
    the app's own hasher, the hash copied to every row), two demo villages each
    (round robin); each also a subscriber with a language, cached in Redis as for
    anyone who called in the last week. Returns how many cadres exist."""
    import psycopg

    from domain.pins import set_pin

    account = SimpleNamespace()
    set_pin(account, PIN)  # type: ignore[arg-type]
    numbers = [(f"+2541100{c:05d}", f"Bench cadre {c:05d}") for c in range(count)]
    with psycopg.connect(pg_conninfo(db_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM area WHERE level = 'village' ORDER BY id")
        villages = [r[0] for r in cur.fetchall()]
        if len(villages) < 2:
            raise SystemExit("the demo data has fewer than two villages")
        cur.executemany(
            "INSERT INTO cadre (msisdn, name, role, active, created_at, pin_hash, pin_failures)"
            " VALUES (%s, %s, 'cadre', true, now(), %s, 0)",
            [(m, n, account.pin_hash) for m, n in numbers],
        )
        cur.execute("SELECT id FROM cadre WHERE msisdn LIKE '+2541100%%' ORDER BY msisdn")
        ids = [r[0] for r in cur.fetchall()]
        links = []
        for c, cid in enumerate(ids):
            a, b = villages[(2 * c) % len(villages)], villages[(2 * c + 1) % len(villages)]
            links += [(cid, a), (cid, b)]
        cur.executemany("INSERT INTO cadre_village (cadre_id, area_id) VALUES (%s, %s)", links)
        subs = add_subscribers(cur, [m for m, _n in numbers], "+2541100")
    cache_languages(redis_url, subs)
    return len(ids)


# -- samples -----------------------------------------------------------------------------


def read_samples(path: Path) -> tuple[dict[str, list[int]], list[str], list[str]]:
    """({kind: [µs]}, names saved, names whose last hop was in flight at the stop)."""
    lat: dict[str, list[int]] = {k: [] for k in KINDS}
    saved: list[str] = []
    inflight: list[str] = []
    files = [path, *sorted(path.parent.glob(path.name + ".*"))]
    lines = [ln for f in files if f.exists() for ln in f.read_text().splitlines()]
    for f in files[1:]:  # one file a wrk thread: merged here, then gone
        f.unlink()
    if path.exists():
        path.write_text("\n".join(lines) + "\n")
    for line in lines:
        kind, _, value = line.partition("\t")
        if kind == "saved":
            saved.append(value)
        elif kind == "inflight":
            inflight.append(value)
        elif kind in lat:
            lat[kind].append(int(value))
    return lat, saved, inflight


def pct(values: list[int], p: float) -> float:
    """The p-th percentile (nearest rank) in ms; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k] / 1000.0


def summary(values: list[int]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": pct(values, 50),
        "p90_ms": pct(values, 90),
        "p99_ms": pct(values, 99),
        "p999_ms": pct(values, 99.9),
        "max_ms": max(values) / 1000.0 if values else 0.0,
        "mean_ms": statistics.fmean(values) / 1000.0 if values else 0.0,
    }


def by_kind(lat: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    out = {k: summary(v) for k, v in lat.items()}
    out["all"] = summary([x for v in lat.values() for x in v])
    out["all_but_pin"] = summary([x for k, v in lat.items() if k != "pin" for x in v])
    return out


# -- PostgreSQL check -----------------------------------------------------------------------


def check_database(db_url: str, saved: list[str], inflight: list[str]) -> dict[str, Any]:
    """Every journey wrk saw saved is stored exactly once; nothing else is stored
    but journeys whose last hop was in flight when wrk stopped; no draft is left
    for a completed survey."""
    import psycopg

    with psycopg.connect(pg_conninfo(db_url)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT h.head_name, count(*) FROM household_survey s"
            " JOIN household h ON h.id = s.household_id GROUP BY h.head_name"
        )
        stored: dict[str, int] = dict(cur.fetchall())
        cur.execute("SELECT count(*) FROM household_survey")
        rows = cur.fetchone()[0]  # type: ignore[index]
        cur.execute("SELECT count(*) FROM household")
        households = cur.fetchone()[0]  # type: ignore[index]
        cur.execute("SELECT count(*) FROM survey_draft")
        drafts = cur.fetchone()[0]  # type: ignore[index]
        cur.execute(
            "SELECT count(*) FROM survey_draft d JOIN household_survey s ON s.draft_key = d.key"
        )
        drafts_of_completed = cur.fetchone()[0]  # type: ignore[index]
    seen = set(saved)
    maybe = set(inflight)
    lost = sorted(seen - set(stored))
    twice = sorted(n for n, c in stored.items() if c > 1)
    unexplained = sorted(set(stored) - seen - maybe)
    stored_in_flight = len(maybe & set(stored))
    ok = (
        not lost
        and not twice
        and not unexplained
        and len(saved) == len(seen)  # the bench itself never saw a name twice
        and rows == len(seen) + stored_in_flight
        and households == rows
        and drafts_of_completed == 0
    )
    return {
        "ok": ok,
        "journeys_saved_seen": len(saved),
        "last_hop_in_flight_at_stop": len(maybe),
        "of_which_stored": stored_in_flight,
        "household_survey_rows": rows,
        "household_rows": households,
        "lost": lost[:10],
        "stored_twice": twice[:10],
        "unexplained": unexplained[:10],
        "survey_draft_rows_left": drafts,
        "drafts_of_completed_journeys": drafts_of_completed,
    }


# -- the benchmark -----------------------------------------------------------------------


def main() -> int:
    settings = begin()
    db_url = settings.db_url
    connections = _env_int("BENCH_SURVEY_CONNECTIONS", 24)
    ring = _env_int("BENCH_SURVEY_RING", 12)
    open_connections = _env_int("BENCH_SURVEY_OPEN_CONNECTIONS", 40)
    open_ring = _env_int("BENCH_SURVEY_OPEN_RING", 8)
    n_households = _env_int("BENCH_SURVEY_HOUSEHOLDS", 200)
    n_classify = _env_int("BENCH_CLASSIFY", 10_000)
    if not 1 <= settings.rounds <= 8:
        raise SystemExit("BENCH_ROUNDS must be 1 to 8 (each ring needs its own tag)")
    if max(connections, open_connections) > 100:
        raise SystemExit("at most 100 connections (one wrk thread each)")

    # Its cadres answer far faster than people type: no per-number limit here.
    server = configure_server(db_url, settings.redis_url, settings.port, USSD_MSISDN_LIMIT="0")
    cores = os.cpu_count() or 1
    started = datetime.now(UTC)
    stamp = f"{started:%Y%m%dT%H%M%S}"
    say(f"Ngazi household-survey benchmark, {started:%Y-%m-%d %H:%M} UTC, {cores} cores, {server}")

    say("setup: database, Redis, migrations, demo data, cadres, households")
    prepare(db_url, settings.redis_url)
    cadres = register_cadres(
        db_url, settings.redis_url, max(connections * ring, open_connections * open_ring)
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    hh_path = RESULTS / f"survey-households-{stamp}.tsv"

    from app import create_app
    from app.db import db_session
    from domain import surveys

    app = create_app()
    with app.app_context():
        form = surveys.form_for(db_session(), surveys.current_survey_id(db_session(), "household"))
        households = make_households(form, n_households)
        lengths = households_file(form, households, hh_path)
        say(
            f"  {cadres} cadres (PIN {PIN}, two villages each); {len(households)} households of"
            f" {MEMBERS} members: {min(lengths)}-{max(lengths)} answers"
            f" (mean {statistics.fmean(lengths):.1f}), so {4 + min(lengths)}-{4 + max(lengths)}"
            f" hops a journey"
        )
        say(f"classification in-process: {n_classify} households, best of 3 passes")
        classify_doc = classification_timing(form, households, n_classify)
        say(f"  {classify_doc['us_per_household']:.1f} µs per household")

    log_path = RESULTS / f"gunicorn-survey-{stamp}.log"
    with gunicorn(settings.base, log_path) as proc:
        runs = bench(
            settings,
            proc.pid,
            stamp=stamp,
            households=hh_path,
            connections=connections,
            ring=ring,
            open_connections=open_connections,
            open_ring=open_ring,
        )
    saved = [n for r in runs["all"] for n in r.extra.get("saved", [])]
    inflight = [n for r in runs["all"] for n in r.extra.get("inflight", [])]
    db_check = check_database(db_url, saved, inflight)
    return report(
        runs,
        db_check=db_check,
        classify_doc=classify_doc,
        started=started,
        server=server,
        cores=cores,
        log_path=log_path,
        lengths=lengths,
        cadres=cadres,
    )


def bench(
    settings: Settings,
    master: int,
    *,
    stamp: str,
    households: Path,
    connections: int,
    ring: int,
    open_connections: int,
    open_ring: int,
) -> dict[str, Any]:
    base, seconds = settings.base, settings.seconds
    counter = iter(range(1000))

    def one(
        name: str,
        mode: str,
        tag: int,
        *,
        secs: int,
        conns: int,
        per: int,
        think_ms: int = 0,
    ) -> SurveyRun:
        samples = RESULTS / f"survey-samples-{stamp}-{next(counter):02d}-{name}.tsv"
        run = run_wrk(
            name,
            base,
            mode=mode,
            seconds=secs,
            connections=conns,
            threads=conns,  # one connection per thread: see bench/survey.lua
            ring=conns * per,
            tag=tag,
            master=master,
            think_ms=think_ms,
            script=LUA,
            env_extra={
                "SURVEY_HOUSEHOLDS": str(households),
                "SURVEY_PIN": PIN,
                "SURVEY_SAMPLES": str(samples) if mode != "hello" else "",
                "SURVEY_IDLE_MS": "200" if mode == "prime" else "",
            },
            cls=SurveyRun,
        )
        assert isinstance(run, SurveyRun)
        if mode != "hello":
            lat, saved, inflight = read_samples(samples)
            run.extra = {
                "kinds": by_kind(lat),
                "saved": saved,
                "inflight": inflight,
                "samples": str(samples.relative_to(ROOT)),
            }
            if mode == "ussd":
                hh_s = len(saved) / run.seconds if run.seconds else 0.0
                pin = run.extra["kinds"]["pin"]
                say(
                    f"    {len(saved)} households saved ({hh_s:.1f}/s); PIN hop p50"
                    f" {pin['p50_ms']:.1f} ms p99 {pin['p99_ms']:.1f} ms (n={pin['n']})"
                )
        return run

    say(
        f"saturating: {connections} connections (one per wrk thread), {ring} cadres each,"
        f" no think time, {seconds} s each"
    )
    runs: dict[str, Any] = interleaved(
        settings.rounds,
        seconds,
        lambda name, mode, tag, secs: one(name, mode, tag, secs=secs, conns=connections, per=ring),
        name="survey",
        priming=f"{connections * ring} cadres mid-survey",
        measuring="surveys",
    )

    best = max(r.rate for r in runs["survey"])
    callers = open_connections * open_ring
    think_ms, extra = open_load(settings, best, open_connections, callers, "cadres mid-survey")
    say(f"  prime {callers} cadres mid-survey")
    runs["prime"].append(one("prime", "prime", 9, secs=600, conns=open_connections, per=open_ring))
    say("  measure")
    run = one(
        "open",
        "ussd",
        9,
        secs=settings.open_seconds,
        conns=open_connections,
        per=open_ring,
        think_ms=think_ms,
    )
    run.extra.update(extra)
    runs["open"] = run
    runs["all"] = [*runs["prime"], *runs["hello"], *runs["survey"], run]
    return runs


def report(
    runs: dict[str, Any],
    *,
    db_check: dict[str, Any],
    classify_doc: dict[str, Any],
    started: datetime,
    server: str,
    cores: int,
    log_path: Path,
    lengths: list[int],
    cadres: int,
) -> int:
    hello, survey, ratio = fastest(runs, "survey")
    open_run: Run = runs["open"]
    all_runs: list[Run] = runs["all"]
    kinds = open_run.extra["kinds"]
    rest = kinds["all_but_pin"]
    pin = kinds["pin"]
    hh_sat = len(survey.extra["saved"]) / survey.seconds if survey.seconds else 0.0
    hh_open = len(open_run.extra["saved"]) / open_run.seconds if open_run.seconds else 0.0
    us = classify_doc["us_per_household"]
    ceiling_cpu_ms = 1000 * hello.server_cpu / hello.requests if hello.requests else 0.0
    ceiling_wall_ms = 1000 / hello.rate if hello.rate else 0.0
    hop_p50 = rest["p50_ms"]
    hop_cpu_ms = 1000 * survey.server_cpu / survey.requests if survey.requests else 0.0

    extra = open_run.extra
    say()
    say("=" * 78)
    say(f"Ngazi household-survey benchmark, {started:%Y-%m-%d %H:%M} UTC, {cores} cores, {server}")
    say(
        f"Journeys: dial, 8 Staff, PIN, 2 New household, {min(lengths)}-{max(lengths)} answers"
        f" ({MEMBERS} members); {cadres} cadres registered"
    )
    say(
        f"Saturating (closed loop, {survey.connections} connections, one per wrk thread,"
        " no think time):"
    )
    say_ceiling(hello)
    say(
        f"  survey   POST /ussd        {survey.rate:7.0f} hops/s  "
        f"p50 {survey.ms('p50'):5.1f} ms  p99 {survey.ms('p99'):6.1f} ms"
    )
    say(
        f"  ratio {ratio:.2f} (bench.ussd's target for browsing >= {TARGET_RATIO:.2f}:"
        f" {verdict(ratio >= TARGET_RATIO)})"
    )
    say(
        f"  households completed: {hh_sat:.1f}/s"
        f" ({len(survey.extra['saved'])} in {survey.seconds:.1f} s)"
    )
    sat_pin = survey.extra["kinds"]["pin"]
    say(
        f"  PIN hop under saturation: p50 {sat_pin['p50_ms']:.1f} ms p99 {sat_pin['p99_ms']:.1f}"
        f" ms; other hops p50 {survey.extra['kinds']['all_but_pin']['p50_ms']:.1f} ms"
        f" p99 {survey.extra['kinds']['all_but_pin']['p99_ms']:.1f} ms"
    )
    say_realistic(open_run, "cadres mid-survey", f"; households completed {hh_open:.1f}/s")
    say(f"  {'hop':32s} {'n':>6s} {'p50':>7s} {'p90':>7s} {'p99':>7s} {'p99.9':>7s} {'max':>7s}")
    for key in (*KINDS, "all_but_pin", "all"):
        k = kinds[key]
        label = {"all_but_pin": "every hop but the PIN", "all": "every hop"}.get(
            key, KIND_LABELS.get(key, key)
        )
        say(
            f"  {label:32s} {k['n']:6d} {k['p50_ms']:6.1f}  {k['p90_ms']:6.1f}  {k['p99_ms']:6.1f}"
            f"  {k['p999_ms']:6.1f}  {k['max_ms']:6.0f}  ms"
        )
    say(
        f"  (wrk's own histogram, every request: p50 {open_run.ms('p50'):.1f} ms"
        f" p99 {open_run.ms('p99'):.1f} ms)"
    )
    say(
        f"  p99 of every hop but the PIN {rest['p99_ms']:.1f} ms (target <= {TARGET_P99_MS:.0f}"
        f" ms): {verdict(rest['p99_ms'] <= TARGET_P99_MS)}"
    )
    say(
        f"  PIN hop (argon2, reported apart): p50 {pin['p50_ms']:.1f} ms p99 {pin['p99_ms']:.1f}"
        f" ms; overall p99 with it {kinds['all']['p99_ms']:.1f} ms"
    )
    say(f"Classification in-process ({classify_doc['households']} households):")
    say(
        f"  classify + classification_columns: {us:.1f} µs per household ="
        f" {us / 1000 / ceiling_cpu_ms:.2f} x the ceiling's gunicorn CPU per request"
        f" ({ceiling_cpu_ms:.2f} ms), {us / 1000 / hop_cpu_ms:.3f} x a survey hop's"
        f" ({hop_cpu_ms:.2f} ms, saturating), {us / 1000 / hop_p50:.3f} x the p50 hop latency"
        f" at realistic load ({hop_p50:.2f} ms)"
        if ceiling_cpu_ms and hop_cpu_ms and hop_p50
        else f"  {us:.1f} µs per household"
    )
    noisy = say_cpu(
        [("ceiling", hello), ("survey", survey), ("realistic", open_run)],
        services_per_request=True,
    )
    d = db_check
    say(
        f"PostgreSQL check: {'OK' if d['ok'] else 'FAILED'}: {d['household_survey_rows']}"
        f" household_survey rows for {d['journeys_saved_seen']} journeys saved"
        f" + {d['of_which_stored']} of {d['last_hop_in_flight_at_stop']} last hops in flight"
        f" at a stop; {d['household_rows']} households; lost {len(d['lost'])},"
        f" stored twice {len(d['stored_twice'])}, unexplained {len(d['unexplained'])};"
        f" drafts left {d['survey_draft_rows_left']} (journeys cut off mid-survey by a stop),"
        f" of completed journeys {d['drafts_of_completed_journeys']}"
    )
    if not d["ok"]:
        say(f"  {d}")
    failures = say_failures(all_runs, off_path=False)

    def slim(r: Run) -> dict[str, Any]:
        doc = dict(r.__dict__)
        doc["extra"] = {k: v for k, v in r.extra.items() if k not in ("saved", "inflight")}
        doc["extra"]["households_saved"] = len(r.extra.get("saved", []))
        return doc

    doc = {
        "cadres": cadres,
        "answers_per_household": {"min": min(lengths), "max": max(lengths)},
        "ceiling_rps": hello.rate,
        "survey_hops_per_s": survey.rate,
        "ratio": ratio,
        "households_per_s_saturating": hh_sat,
        "open_offered_hops_per_s": extra["offered_rate"],
        "open_hops_per_s": open_run.rate,
        "households_per_s_open": hh_open,
        "open_by_kind": kinds,
        "open_p99_all_but_pin_ms": rest["p99_ms"],
        "open_p99_all_ms": kinds["all"]["p99_ms"],
        "open_pin_p50_ms": pin["p50_ms"],
        "open_pin_p99_ms": pin["p99_ms"],
        "classification": classify_doc
        | {
            "ratio_to_ceiling_cpu_per_request": us / 1000 / ceiling_cpu_ms if ceiling_cpu_ms else 0,
            "ratio_to_ceiling_wall_per_request": us / 1000 / ceiling_wall_ms
            if ceiling_wall_ms
            else 0,
            "ratio_to_survey_hop_cpu": us / 1000 / hop_cpu_ms if hop_cpu_ms else 0,
            "ratio_to_open_p50_hop": us / 1000 / hop_p50 if hop_p50 else 0,
        },
        "database_check": db_check,
        "failures": failures,
        "noisy": noisy,
        "runs": [slim(r) for r in all_runs],
    }
    write_results("survey", doc, started=started, cores=cores, server=server, log_path=log_path)
    return 1 if failures or not db_check["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""Produce-offer parser benchmark: ``python -m bench.offers`` (no database, no Redis).

Parses the labelled corpus ``tests/fixtures/sms/produce-offers.jsonl`` with
``domain.offer_parser`` and prints:

1. accuracy: the kind of each message (offer, command, unclear, unparseable),
   each offer field (produce, quantity, unit, unit_price, total_price, currency,
   location), the detected language over rows labelled with one language, and
   the share of messages parsed exactly right, with PASS/MISS against the 97 %
   target;
2. speed: messages parsed per second on one core (the process pinned to one CPU
   where the OS allows), the best of 3 runs over the corpus repeated to about
   ``BENCH_OFFERS_SECONDS`` [2] seconds each;
3. every miss: its id, text, what was expected and what was parsed.

Results go to ``bench/results/offers-<time>.json``. It exits 0 whatever the
figures (a missed target is a figure, not a failure); 1 when the corpus is missing.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.ussd import RESULTS, ROOT, say, verdict
from domain import offer_parser

CORPUS = ROOT / "tests" / "fixtures" / "sms" / "produce-offers.jsonl"
TARGET_EXACT = 0.97
TARGET_RATE = 10_000  # messages per second on one core


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def rate(texts: list[str], seconds: float, runs: int = 3) -> tuple[float, int]:
    """Best messages per second over ``runs`` runs of ``texts`` repeated to about
    ``seconds`` each; and how many messages one run parses."""
    parse = offer_parser.parse
    started = time.perf_counter()
    for text in texts:  # warm-up, and the time one pass takes
        parse(text)
    repeat = max(1, math.ceil(seconds / max(time.perf_counter() - started, 1e-9)))
    best = 0.0
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(repeat):
            for text in texts:
                parse(text)
        best = max(best, repeat * len(texts) / (time.perf_counter() - started))
    return best, repeat * len(texts)


def _pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned"


def _show(value: object) -> str:
    return "null" if value is None else str(value)


def main() -> int:
    if not CORPUS.exists():
        say(f"no corpus at {CORPUS}")
        return 1
    rows = load(CORPUS)
    seconds = float(os.environ.get("BENCH_OFFERS_SECONDS", "2"))
    started_at = datetime.now(UTC)
    say(f"== produce-offer parser: {len(rows)} labelled messages ({CORPUS.relative_to(ROOT)}) ==")
    accuracy = offer_parser.evaluate(rows)
    say(f"kind (offer, command, unclear, unparseable): {accuracy.kind_share:7.2%}")
    say(f"offer fields, over {accuracy.offers} offers:")
    for name in offer_parser.OFFER_FIELDS:
        say(f"  {name:<12} {accuracy.field_share(name):7.2%}")
    right, asked = accuracy.languages
    say(f"language (rows labelled with one): {right}/{asked} = {right / max(asked, 1):.2%}")
    say(
        f"exact match: {accuracy.exact}/{accuracy.messages} = {accuracy.exact_share:.2%}; "
        f"target {TARGET_EXACT:.0%}: {verdict(accuracy.exact_share >= TARGET_EXACT)}"
    )
    pinned = _pin_one_core()
    best, per_run = rate([row["text"] for row in rows], seconds)
    say(
        f"speed: {best:,.0f} messages/s on one core ({pinned}; best of 3 runs of "
        f"{per_run:,} messages); target {TARGET_RATE:,}: {verdict(best >= TARGET_RATE)}"
    )
    say(f"misses: {len(accuracy.misses)}")
    for miss in accuracy.misses:
        say(f"  {miss.id} {miss.text!r}")
        say(f"    expected {', '.join(f'{k}={_show(v)}' for k, v in miss.expected.items())}")
        say(f"    parsed   {', '.join(f'{k}={_show(v)}' for k, v in miss.got.items())}")
    RESULTS.mkdir(exist_ok=True)
    result = RESULTS / f"offers-{started_at:%Y%m%dT%H%M%S}.json"
    result.write_text(
        json.dumps(
            {
                "started": started_at.isoformat(),
                "messages": accuracy.messages,
                "exact_share": accuracy.exact_share,
                "kind_share": accuracy.kind_share,
                "fields": {f: accuracy.field_share(f) for f in offer_parser.OFFER_FIELDS},
                "language": [right, asked],
                "messages_per_s": best,
                "misses": [m.id for m in accuracy.misses],
            },
            indent=2,
        )
    )
    say(f"results: {result.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

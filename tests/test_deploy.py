"""deploy/gunicorn.conf.py: settings from the environment, and the GC hooks."""

from __future__ import annotations

import gc
import os
import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

CONF = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"


def _conf(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    # Unset, the conf makes a temporary directory and sets the variable for the
    # workers it would start; monkeypatch unsets it again after the test.
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", "")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _conf(monkeypatch, GUNICORN_WORKERS="3", GUNICORN_THREADS="4", PORT="5055")
    assert (conf["workers"], conf["threads"], conf["bind"]) == (3, 4, "127.0.0.1:5055")
    assert conf["worker_class"] == "gthread" and conf["keepalive"] == 75


def test_workers_freeze_what_the_app_built_and_again_after_warming_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conf = _conf(monkeypatch, GUNICORN_GC_REFREEZE="3")
    worker = SimpleNamespace()
    try:
        gc.unfreeze()
        conf["post_worker_init"](worker)
        first = gc.get_freeze_count()
        assert first > 0 and worker.ngazi_requests == 0
        kept = [[] for _ in range(1000)]  # what the first requests leave behind (GC-tracked)
        for _ in range(2):
            conf["post_request"](worker, None, {}, None)
        # Not yet refrozen. (Frozen objects that die leave the count: other
        # tests' threads may still be finishing, so it can only be said to not grow.)
        assert gc.get_freeze_count() <= first
        conf["post_request"](worker, None, {}, None)
        assert worker.ngazi_requests == 3
        assert gc.get_freeze_count() > first + len(kept) // 2  # the kept objects too
        assert kept
    finally:
        gc.unfreeze()


def test_prometheus_multiprocess_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fresh = _conf(monkeypatch)
    made = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert made.is_dir() and made.name.startswith("ngazi-prometheus-")
    assert fresh["bind"]  # the rest of the configuration is unchanged

    metrics_dir = tmp_path / "metrics"
    conf = _conf(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(metrics_dir)  # kept as given
    metrics_dir.mkdir()
    (metrics_dir / "counter_41.db").write_bytes(b"from the last run")
    conf["on_starting"](SimpleNamespace())
    assert list(metrics_dir.iterdir()) == []  # a new run starts from zero

    for name in ("counter_42.db", "histogram_42.db", "gauge_livesum_42.db", "gauge_liveall_43.db"):
        (metrics_dir / name).write_bytes(b"")
    conf["child_exit"](SimpleNamespace(), SimpleNamespace(pid=42))
    # The dead worker's live gauges go; its counts stay in the totals.
    assert sorted(p.name for p in metrics_dir.iterdir()) == [
        "counter_42.db",
        "gauge_liveall_43.db",
        "histogram_42.db",
    ]
    made.rmdir()

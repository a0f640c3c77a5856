"""Gunicorn settings for Ngazi: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Every setting can be overridden from the environment (``GUNICORN_*``) so one file
serves production and ``make bench``.

Why these defaults (measured with ``make bench`` on 2 cores, docs/benchmarks.md):

* ``gthread`` workers. The Africa's Talking gateway can keep HTTP/1.1 connections
  open between callbacks; the ``sync`` worker closes every connection after one
  response (a TCP handshake per USSD hop), ``gthread`` keeps them alive and parks
  idle ones in its poller, not in a thread.
* workers = 2 x cores + 1, threads = 2. A hop is mostly Python on the CPU, so
  processes, not threads, are what use more than one core (the GIL); two threads
  let a worker overlap its waits on Redis and PostgreSQL. cores + 1 workers gave
  about 9 % more hops/s on 2 cores, but a kept-alive connection stays with the
  worker that accepted it, and with few workers an unlucky spread of a gateway's
  connections leaves a core idle (one run in three with 3 workers); 4 threads a
  worker gave about 20 % fewer hops/s (GIL contention).
* Put a buffering proxy (nginx) in front in production: gunicorn 27's gthread
  worker holds one of the worker's threads for up to 5 s waiting for the first
  bytes of a new connection, so clients that connect and stay silent (health
  checks, scanners, pre-opened pools) can stall a worker with only 2 threads.
* ``keepalive`` 75 s. The gateway (or the proxy in front) reuses idle
  connections; gunicorn's default of 2 s makes it reconnect between most hops of
  a session, which are seconds apart. 75 s outlasts nginx's upstream
  ``keepalive_timeout`` (60 s), so the client side closes an idle connection
  first and never reuses one the server is closing.
* ``worker_connections`` 1000 per worker: kept-alive connections cost a file
  descriptor each, not a thread.
* ``timeout`` 30 s: a hop that takes longer than the gateway waits (a few
  seconds) is lost anyway; the arbiter kills a worker stuck that long.
* ``max_requests`` with jitter: recycle workers now and then so a slow leak in a
  dependency cannot grow forever, without restarting them all at once.
* ``preload_app`` off: each worker opens its own database pool and Redis client
  after the fork (sharing sockets across a fork corrupts them).
* ``gc.freeze()`` in each worker once the app is loaded, and again after its first
  ``GUNICORN_GC_REFREEZE`` requests (caches filled, survey forms parsed): the
  objects that live as long as the process (SQLAlchemy, Flask, transitions
  machines, catalogs) move out of the collector's generations. Without it a
  full (generation 2) collection walks them all, a 40–50 ms pause in the middle
  of some hop, every few hundred hops (measured in-process with ``gc.callbacks``);
  with it, no pause over 0.3 ms. Instagram's write-up of the same fix:
  https://instagram-engineering.com/copy-on-write-friendly-python-garbage-collection-ad6ed5233ddf
* Prometheus multiprocess mode: each worker counts its USSD hops in files under
  ``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary directory when unset), which
  ``/metrics`` sums across workers. The directory is emptied when the server
  starts (old files would add a previous run's counts) and a dead worker's live
  files are dropped (``child_exit``); its counters stay, so totals never go down.
* No access log by default (one line per hop is a lot of disk at USSD volumes and
  costs CPU on every request); errors go to stderr.
* The app's own INFO records (``ngazi.audit``: who viewed or exported whose data;
  ``ngazi.console``: sign-ins, requeued jobs) go to stderr too, so the journal
  keeps them and can ship them. Every record a worker makes (the app's, gunicorn's
  access lines, anything's tracebacks) has its phone numbers and ``token=`` values
  masked (``app.log_masking``, installed by ``create_app`` and again here).
  Nothing configures Python's logging in the app, and without a handler INFO
  records are dropped; a ``logconfig`` given to gunicorn that configures them
  replaces this.
"""

from __future__ import annotations

import gc
import glob
import logging
import multiprocessing
import os
import tempfile
from typing import Any


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '5000')}"
workers = _int("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count() + 1)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = _int("GUNICORN_THREADS", 2)
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 1000)
keepalive = _int("GUNICORN_KEEPALIVE", 75)
backlog = _int("GUNICORN_BACKLOG", 2048)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 10)
max_requests = _int("GUNICORN_MAX_REQUESTS", 100_000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 10_000)
preload_app = False

accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = os.environ.get("GUNICORN_ERRORLOG", "-")
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
proc_name = "ngazi"

# Gunicorn 25+ opens a control socket for ``gunicornc``; keep it unless asked not to
# (the benchmark turns it off so it never touches $HOME).
control_socket_disable = os.environ.get("GUNICORN_CONTROL_SOCKET", "1") == "0"

_refreeze_after = _int("GUNICORN_GC_REFREEZE", 2000)

# Set before any worker imports the app (and prometheus-client): the workers
# inherit it. Kept when the configuration is read again (HUP).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ngazi-prometheus-")


def _log_app_records() -> None:
    """Send the ``ngazi.*`` loggers' INFO records to stderr, unless logging is
    already configured for them (or for the root logger)."""
    logger = logging.getLogger("ngazi")
    if logger.handlers or logging.getLogger().handlers:
        return
    from app.log_masking import MaskingFilter

    handler = logging.StreamHandler()
    handler.addFilter(MaskingFilter())  # also when a record was made before install()
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s",
            "[%Y-%m-%d %H:%M:%S %z]",
        )
    )
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def post_worker_init(worker: Any) -> None:
    """The app is loaded in this worker: keep what it built out of the collector."""
    from app.log_masking import install

    install()  # create_app did; a wsgi module that does not call it still gets it
    _log_app_records()
    gc.collect()
    gc.freeze()
    worker.ngazi_requests = 0


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """After the first requests have filled the caches, freeze once more."""
    worker.ngazi_requests = getattr(worker, "ngazi_requests", 0) + 1
    if worker.ngazi_requests == _refreeze_after:
        gc.collect()
        gc.freeze()


def on_starting(server: Any) -> None:
    """Start the metrics from zero: drop files a previous run left."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: drop its live-gauge files (its counters' files stay)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

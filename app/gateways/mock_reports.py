"""Delivery reports of the mock SMS gateway (``app.gateways.mock_server``): posted
form-encoded from background threads after a delay, so they never hold up the
gateway's answer. The queue is bounded; a report that does not fit, or whose POST
fails, is counted and dropped (the real gateway does not retry either)."""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Sequence

log = logging.getLogger(__name__)


class ReportQueue:
    """Reports waiting to be posted, drained in order by ``senders`` threads
    (started on the first ``put``)."""

    def __init__(self, *, senders: int = 2, limit: int = 100_000, timeout: float = 5.0) -> None:
        self._senders = senders
        self._limit = limit  # queued reports; beyond it new ones are dropped
        self._timeout = timeout  # seconds for one POST
        self._cond = threading.Condition()
        self._items: deque[tuple[float, str, dict[str, str]]] = deque()  # (due, url, form)
        self._busy = 0  # taken by a sender, not yet posted
        self._threads: list[threading.Thread] = []
        self._closed = False
        self.sent = self.failed = self.dropped = 0
        self.max_lag = 0.0  # seconds a report waited past its due time

    def put(self, url: str, reports: Sequence[dict[str, str]], *, delay: float = 0.0) -> None:
        """Queue ``reports`` for ``url``, to be posted ``delay`` seconds from now."""
        due = time.monotonic() + delay
        with self._cond:
            self._closed = False
            room = max(self._limit - len(self._items), 0)
            if room < len(reports):
                if not self.dropped:
                    log.warning("delivery report queue full (%d); dropping reports", self._limit)
                self.dropped += len(reports) - room
            self._items.extend((due, url, form) for form in reports[:room])
            self._threads = [t for t in self._threads if t.is_alive()]
            while len(self._threads) < self._senders:
                thread = threading.Thread(target=self._run, name="mock-dlr", daemon=True)
                thread.start()
                self._threads.append(thread)
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until every queued report was posted or
        dropped; False if some are still waiting."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._items or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self) -> None:
        """Drop what is still queued and stop the sender threads."""
        with self._cond:
            self._closed = True
            self.dropped += len(self._items)
            self._items.clear()
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout=1.0)

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {
                "reports_sent": self.sent,
                "reports_failed": self.failed,
                "reports_dropped": self.dropped,
                "reports_pending": len(self._items) + self._busy,
                "reports_max_lag_ms": round(self.max_lag * 1000),
            }

    def reset(self) -> None:
        with self._cond:
            self.sent = self.failed = self.dropped = 0
            self.max_lag = 0.0

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                due, url, form = self._items.popleft()
                self._busy += 1
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            ok = self._post(url, form)
            lag = time.monotonic() - due
            with self._cond:
                self.max_lag = max(self.max_lag, lag)
                self._busy -= 1
                if ok:
                    self.sent += 1
                else:
                    self.failed += 1
                failed = self.failed
                self._cond.notify_all()
            if not ok and (failed == 1 or failed % 100 == 0):
                log.warning("delivery report to %s failed (%d so far)", url, failed)

    def _post(self, url: str, form: dict[str, str]) -> bool:
        request = urllib.request.Request(
            url,
            data=urllib.parse.urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                response.read()
                return bool(200 <= response.status < 300)
        except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, bad URL
            log.debug("delivery report %s: %s", form.get("id"), exc)
            return False

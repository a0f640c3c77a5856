"""Serve the app on a real local HTTP server for the length of a ``with`` block.

For tests that need a real socket (the browser, ``flask dial``)::

    with serve(app) as base_url:  # "http://127.0.0.1:PORT"
        requests.post(base_url + "/ussd", data=...)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1 on a free port in a background thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()

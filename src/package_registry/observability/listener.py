"""Side listeners (``-metrics-address``, ``-httpprof``): a small threaded HTTP server
each, beside the registry's own, so scrapes and profiles never queue behind traffic."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve_in_thread(
    address: str, handler: type[BaseHTTPRequestHandler], name: str
) -> ThreadingHTTPServer:
    """Listen on ``host:port`` (an empty host: every interface) and serve ``handler``
    from a daemon thread; ``OSError`` when the address cannot be bound."""
    host, _, port = address.rpartition(":")
    server = ThreadingHTTPServer((host.strip("[]") or "0.0.0.0", int(port)), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server

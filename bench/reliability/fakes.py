"""A small real HTTP server that misbehaves on demand: the upstream of the fault scenario.

It stands in for the public package storage (``-storage-endpoint``) or for the registry
a proxy-mode registry asks (``-proxy-to``). Its ``mode`` says how it answers: ``ok``
(JSON ``[]`` for ``/search`` and ``/categories``, 404 for a package document, a 256 KiB
body for anything else), ``500``, ``garbage`` (bytes that are not HTTP, then
close), ``stall`` (headers and the first KiB of the body, then nothing until stopped).
"Down" is a port where nothing listens (:func:`closed_port`).
"""

from __future__ import annotations

import os
import random
import socket
import socketserver
import threading

BODY = random.Random(5).randbytes(256 * 1024)


class Upstream(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str = "ok") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.requests = 0
        self.released = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def stop(self) -> None:
        self.released.set()
        self.shutdown()
        self.server_close()


class _Handler(socketserver.StreamRequestHandler):
    server: Upstream

    def handle(self) -> None:
        while True:
            request_line = self.rfile.readline(65536)
            if not request_line:
                return
            while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                pass
            self.server.requests += 1
            path = request_line.split(b" ")[1] if b" " in request_line else b"/"
            if not self._answer(self.server.mode, path):
                return

    def _answer(self, mode: str, path: bytes) -> bool:
        """Write one answer; False when the connection must end."""
        if mode == "500":
            self._send(500, b"upstream error", "text/plain")
        elif mode == "garbage":
            self.wfile.write(os.urandom(512))
            return False
        elif mode == "stall":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            self.wfile.write(head + b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY[:1024])
            self.wfile.flush()
            self.server.released.wait(300)
            return False
        elif path.startswith((b"/search", b"/categories")):
            self._send(200, b"[]", "application/json")
        elif path.startswith(b"/package/"):
            self._send(404, b'{"message": "package not found"}', "application/json")
        else:
            self._send(200, BODY, "application/zip")
        return True

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.wfile.write(
            b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (status, content_type.encode(), len(body))
            + body
        )
        self.wfile.flush()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

"""A real HTTP server on loopback that misbehaves on request, for tests of outgoing calls.

What it does for a request is chosen by the first word of the path's last segment
(``/artifacts/packages/half-1.0.0.zip`` → ``half``), so one server can stand in for a
storage endpoint, a bucket API or a proxy upstream with several faults at once:

- ``ok``: 200 with a short body and its ``Content-Length``;
- ``big``: 200 with ``BIG_SIZE`` bytes, written as fast as the client reads;
- ``slow``: 200 ``[]`` as JSON, after ``SLOW_SECONDS``;
- ``stall``: reads the request and never answers;
- ``stallbody``: announces 1000 bytes, sends 100, then goes silent;
- ``half``: announces 1000 bytes, sends 100, then closes the connection;
- ``chunkhalf``: a chunked body whose end never comes: one chunk, then close;
- ``error``: 500 with a text body;
- ``garbage``: bytes that are not HTTP, then close;
- ``forward``: passes the request on to ``forward_to`` (``host:port``) and its answer
  back, so the server can stand between a client and a working store, then fail;
- anything else: what ``fallback`` names (404 by default), so that a server made with
  ``FaultServer("stall")`` stalls on ``/search`` too. ``fallback`` may be changed while
  the server runs.

``requests`` counts the requests per word, for single-flight checks.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import socketserver
import threading
import time
import urllib.parse

BIG_SIZE = 64 * 1024 * 1024
SLOW_SECONDS = 0.5
_BLOCK = b"z" * (1024 * 1024)
_WORDS = frozenset(
    ("ok", "big", "slow", "stall", "stallbody", "half", "chunkhalf", "error", "garbage")
)


class _Handler(socketserver.BaseRequestHandler):
    server: FaultServer

    def handle(self) -> None:
        conn: socket.socket = self.request
        data = b""
        while b"\r\n\r\n" not in data:
            got = conn.recv(65536)
            if not got:
                return
            data += got
        target = data.split(b" ", 2)[1].decode("latin-1")
        path = urllib.parse.unquote(urllib.parse.urlsplit(target).path)
        word = path.rstrip("/").rsplit("/", 1)[-1].split("-", 1)[0].split("?", 1)[0]
        with self.server.lock:
            self.server.requests[word] += 1
        if word not in _WORDS:
            word = self.server.fallback
        with contextlib.suppress(OSError):  # the client left first
            if word == "forward":
                self._forward(conn, data)
            else:
                self._answer(conn, word)

    def _forward(self, conn: socket.socket, data: bytes) -> None:
        """One request to ``forward_to`` (on a connection of its own) and its answer back."""
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = 0
        kept = [lines[0]]
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            if name.strip().lower() != b"connection":
                kept.append(line)
        while len(body) < length:
            got = conn.recv(65536)
            if not got:
                return
            body += got
        host, port = self.server.forward_to.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as upstream:
            upstream.sendall(b"\r\n".join([*kept, b"Connection: close", b"", b""]) + body)
            while chunk := upstream.recv(65536):
                conn.sendall(chunk)

    def _answer(self, conn: socket.socket, word: str) -> None:
        stop = self.server.stopping
        if word == "ok":
            conn.sendall(_head(200, b"application/zip", 7) + b"PK-okay")
        elif word == "big":
            conn.sendall(_head(200, b"application/zip", BIG_SIZE))
            for _ in range(BIG_SIZE // len(_BLOCK)):
                conn.sendall(_BLOCK)
        elif word == "slow":
            time.sleep(SLOW_SECONDS)
            conn.sendall(_head(200, b"application/json", 2) + b"[]")
        elif word == "stall":
            stop.wait()
        elif word == "stallbody":
            conn.sendall(_head(200, b"application/zip", 1000) + b"x" * 100)
            stop.wait()
        elif word == "half":
            conn.sendall(_head(200, b"application/zip", 1000) + b"x" * 100)
        elif word == "chunkhalf":
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/zip\r\n"
                b"transfer-encoding: chunked\r\n\r\n64\r\n" + b"x" * 100 + b"\r\n"
            )
        elif word == "error":
            conn.sendall(_head(500, b"text/plain", 6) + b"broken")
        elif word == "garbage":
            conn.sendall(b"\x00\xffthis is not HTTP\r\n\r\n")
        else:
            conn.sendall(_head(404, b"text/plain", 9) + b"not found")


def _head(status: int, content_type: bytes, length: int) -> bytes:
    reason = {200: b"OK", 404: b"Not Found", 500: b"Internal Server Error"}[status]
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n"
        b"last-modified: Mon, 01 Jan 2024 00:00:00 GMT\r\nconnection: close\r\n\r\n"
        % (status, reason, content_type, length)
    )


class FaultServer(socketserver.ThreadingTCPServer):
    """Serves in background threads on ``127.0.0.1`` and an ephemeral port."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fallback: str = "notfound", forward_to: str = "") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fallback = fallback
        self.forward_to = forward_to
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.requests: collections.Counter[str] = collections.Counter()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()

"""The request log: one line per answered request, written without the logging module.

Through the logging module and ecs-logging's ``StdlibFormatter`` a request line costs
about 70 µs (a ``LogRecord``, filters, flattening and re-nesting dotted keys, JSON with
sorted keys, a flush) — many times what answering a cached request costs, so at the
default ``-log-level=info`` the log, not the registry, set the request rate. The request
line is therefore built here: the same document ecs-logging writes for every other line
(``@timestamp``, ``log.level`` and ``message`` first, then the other fields nested and
sorted; UTC timestamps with milliseconds), serialised by orjson. As in the reference,
request lines carry no ``log.origin``.

Even one ``write(2)`` per line kept a worker well below nginx's pace with its access log
on, so lines are buffered per process and written in batches: when ``FLUSH_BYTES`` are
waiting, ``FLUSH_SECONDS`` after the first waiting line (a timer on the worker's event
loop), before the process forks and when it stops (``flush`` is called by the server
when a worker's loop ends, and at exit). A process killed outright (SIGKILL) loses at
most its last second of lines. Several workers share stderr, so a batch never splits a
line: on a regular file it is one ``write``, which the kernel keeps whole; on a pipe, a
socket or a terminal it goes in pieces of whole lines of at most ``PIPE_BUF`` bytes, the
size the kernel writes atomically there (a single line longer than that, which no real
request makes, is written alone).

With ``-log-type=dev`` request lines go through the logging module (a terminal is no
hot path), as do all other lines in either format.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import ipaddress
import logging
import os
import select
import stat
import time
from collections.abc import Iterable
from typing import IO, Any

import orjson

#: The request log's logger, named as the reference names it (``log.logger: http``).
ACCESS_LOGGER = "http"
ECS_VERSION = "1.6.0"

Headers = Iterable[tuple[bytes, bytes]]

#: Bytes of request lines a process holds before writing them.
FLUSH_BYTES = 64 * 1024
#: Longest a request line waits in the buffer.
FLUSH_SECONDS = 1.0


class RequestLog:
    """Where request lines go; ``enabled`` is false below ``-log-level=info``."""

    def __init__(self) -> None:
        self.enabled = False
        self._service: dict[str, str] = {}
        self._fd: int | None = None
        self._stream: IO[str] | None = None
        self._ecs = True
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        #: Largest write that keeps lines whole against other writers of the descriptor.
        self._piece = FLUSH_BYTES
        self._timer: asyncio.TimerHandle | None = None

    def configure(
        self, *, enabled: bool, ecs: bool, service: dict[str, str], stream: IO[str]
    ) -> None:
        """Set by ``setup_logging``: level, format, ``service.*`` fields and the stream."""
        self.flush()
        self.enabled = enabled
        self._ecs = ecs
        self._service = {k.removeprefix("service."): service[k] for k in sorted(service)}
        self._stream = stream
        try:
            self._fd = stream.fileno()
        except (AttributeError, OSError, ValueError):  # a stream without a descriptor
            self._fd = None
            return
        regular = stat.S_ISREG(os.fstat(self._fd).st_mode)
        self._piece = FLUSH_BYTES if regular else select.PIPE_BUF

    def write(
        self,
        method: str,
        path: str,
        http_version: str,
        query: str,
        status: int,
        sent: int,
        seconds: float,
        client: str | None,
        headers: Headers,
        trace: tuple[str, str] | None = None,
    ) -> None:
        """Log one answered request (callers check ``enabled`` first); ``trace`` is the
        APM (trace id, transaction id) when the request was traced."""
        message = f"{method} {path} HTTP/{http_version}"
        document = request_document(
            method, path, query, status, sent, seconds, client, headers, self._service, trace
        )
        if not self._ecs:
            del document["log"], document["service"]  # the logging module adds its own
            logging.getLogger(ACCESS_LOGGER).info(message, extra=dotted(document))
            return
        line = ecs_line(time.time(), message, document)
        if self._fd is None:
            assert self._stream is not None
            self._stream.write(line.decode())
            self._stream.flush()
            return
        self._pending.append(line)
        self._pending_bytes += len(line)
        if self._pending_bytes >= FLUSH_BYTES:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no event loop to flush later: write now
                self.flush()
                return
            self._timer = loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Write every waiting line, in pieces of whole lines (see the module doc)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        if not pending or self._fd is None:
            return
        piece: list[bytes] = []
        size = 0
        try:
            for line in pending:
                if piece and size + len(line) > self._piece:
                    _write_all(self._fd, b"".join(piece))
                    piece, size = [], 0
                piece.append(line)
                size += len(line)
            _write_all(self._fd, b"".join(piece))
        except OSError:  # stderr closed or full: a request log must not fail requests
            pass


def _write_all(fd: int, data: bytes) -> None:
    """Write ``data`` whole, waiting for the descriptor when it is non-blocking and full
    (its reader is slow: the same wait a blocking descriptor makes)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [])


#: The process's request log, configured by ``setup_logging``.
REQUEST_LOG = RequestLog()
atexit.register(REQUEST_LOG.flush)
os.register_at_fork(before=REQUEST_LOG.flush)


def request_document(
    method: str,
    path: str,
    query: str,
    status: int,
    sent: int,
    seconds: float,
    client: str | None,
    headers: Headers,
    service: dict[str, str],
    trace: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The reference's request-log fields with ``log`` and ``service``, nested, in sorted
    key order at every level as ecs-logging writes them.

    ``client`` is the remote host without its port; ``service`` is sorted already.
    """
    host = referer = agent = None
    for name, value in headers:
        if name == b"host":
            host = host or value
        elif name == b"referer":
            referer = referer or value
        elif name == b"user-agent":
            agent = agent or value
    request: dict[str, Any] = {"method": method}
    if referer is not None:
        request["referer"] = referer.decode("latin-1")
    document: dict[str, Any] = {
        "event": {"duration": int(seconds * 1e9)},
        "http": {
            "request": request,
            "response": {"body": {"bytes": sent}, "code": status},
        },
        "log": _LOGGER,
        "service": service,
    }
    if client:
        document["source"] = _source(client)
    if trace is not None:
        document["trace"] = {"id": trace[0]}
        document["transaction"] = {"id": trace[1]}
    url: dict[str, Any] = {}
    if host:
        domain, port = split_host(host.decode("latin-1"))
        url["domain"] = domain
        url["path"] = path
        if port:
            url["port"] = port
    else:
        url["path"] = path
    if query:
        url["query"] = query
    document["url"] = url
    if agent is not None:
        document["user_agent"] = {"original": agent.decode("latin-1")}
    return document


def ecs_line(now: float, message: str, document: dict[str, Any]) -> bytes:
    """The JSON line ecs-logging writes for ``document`` at ``now``, without ``log.origin``:
    its three leading keys, then ``ecs.version`` and the sorted rest."""
    line = {
        "@timestamp": _timestamp(now),
        "log.level": "info",
        "message": message,
        "ecs.version": ECS_VERSION,
    }
    line.update(document)
    return orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)


#: Shared by every line: orjson only reads these.
_LOGGER = {"logger": ACCESS_LOGGER}


@functools.lru_cache(maxsize=4096)
def _source(client: str) -> dict[str, str]:
    """``source.*`` of a remote host (shared, never changed: orjson only reads it)."""
    try:
        ipaddress.ip_address(client)
    except ValueError:
        return {"address": client, "domain": client}
    return {"address": client, "ip": client}


def dotted(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``: ``extra`` fields for the logging module."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            out.update(dotted(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


_second: list[Any] = [None, ""]


def _timestamp(now: float) -> str:
    """``2024-05-27T18:03:35.489Z``: ecs-logging's format, the date part made once a second."""
    whole = int(now)
    if _second[0] != whole:
        _second[0], _second[1] = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_second[1]}.{int((now - whole) * 1000):03d}Z"


def split_host(host: str) -> tuple[str, int | None]:
    """``Host`` header → (domain, port); IPv6 literals keep their brackets."""
    if host.startswith("["):
        end = host.find("]")
        domain, rest = host[: end + 1], host[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        domain, _, port_text = host.partition(":")
    port = int(port_text) if port_text.isdigit() and int(port_text) > 0 else None
    return domain, port

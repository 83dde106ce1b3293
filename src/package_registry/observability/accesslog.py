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

The line itself is put together from pieces of JSON rendered once: the parts fixed by
the request target (``LineTarget``; a replayed answer keeps one for all its requests),
by the status, by the ``service`` fields, by a ``Host``, a ``User-Agent`` or a client
address (small bounded caches), and the timestamp text, remade once a millisecond. Only
the duration and the body size are formatted per request. The bytes are those orjson
gives for the whole document (tested against ecs-logging's own output).

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
        #: ``},"code":…}},"log":…,"service":{…}`` by status: all that follows the body size.
        self._after_sent: dict[int, bytes] = {}

    def configure(
        self, *, enabled: bool, ecs: bool, service: dict[str, str], stream: IO[str]
    ) -> None:
        """Set by ``setup_logging``: level, format, ``service.*`` fields and the stream."""
        self.flush()
        self.enabled = enabled
        self._ecs = ecs
        self._service = {k.removeprefix("service."): service[k] for k in sorted(service)}
        self._after_sent = {}
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
        target: LineTarget | None = None,
    ) -> None:
        """Log one answered request (callers check ``enabled`` first); ``trace`` is the
        APM (trace id, transaction id) when the request was traced, ``target`` the
        rendered ``path`` and ``query`` when the caller keeps them."""
        if not self._ecs:
            document = request_document(
                method, path, query, status, sent, seconds, client, headers, self._service, trace
            )
            del document["log"], document["service"]  # the logging module adds its own
            message = f"{method} {path} HTTP/{http_version}"
            logging.getLogger(ACCESS_LOGGER).info(message, extra=dotted(document))
            return
        line = self.line(
            time.time(),
            target or LineTarget(path, query),
            method,
            http_version,
            status,
            sent,
            seconds,
            client,
            headers,
            trace,
        )
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

    def line(
        self,
        now: float,
        target: LineTarget,
        method: str,
        http_version: str,
        status: int,
        sent: int,
        seconds: float,
        client: str | None,
        headers: Headers,
        trace: tuple[str, str] | None = None,
    ) -> bytes:
        """The ECS line of one request at ``now``: what ecs-logging writes for the fields
        of ``request_document`` (its three leading keys, then ``ecs.version`` and the
        others sorted at every level), without ``log.origin``."""
        host, referer, agent = _logged_headers(headers)
        before_path, method_field = _method_pieces(method)
        after_sent = self._after_sent.get(status)
        if after_sent is None:
            after_sent = self._after_sent[status] = b'},"code":%d}},"log":%s,"service":%s' % (
                status,
                orjson.dumps(_LOGGER),
                orjson.dumps(self._service),
            )
        domain, port = _host_fields(host) if host else (b"", b"")
        return b"".join(
            (
                _timestamp_field(now),
                before_path,
                target.path,
                _version_piece(http_version),
                b"%d" % int(seconds * 1e9),
                method_field,
                b"" if referer is None else b',"referer":' + _json(referer),
                b'},"response":{"body":{"bytes":',
                b"%d" % sent,
                after_sent,
                _source_field(client) if client else b"",
                _trace_fields(trace) if trace is not None else b"",
                b',"url":{',
                domain,
                b'"path":"',
                target.path,
                b'"',
                port,
                target.query,
                b"}",
                _agent_field(agent) if agent is not None else b"",
                b"}\n",
            )
        )

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
    host, referer, agent = _logged_headers(headers)
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


class LineTarget:
    """The parts of a request line fixed by the request's path and query, rendered once:
    the path as JSON text (in the message and in ``url.path``) and what follows it in
    ``url`` (the query, if any)."""

    __slots__ = ("path", "query")

    def __init__(self, path: str, query: str) -> None:
        self.path = _json(path)[1:-1]
        self.query = b',"query":' + _json(query) if query else b""


#: Header values longer than this are rendered per line rather than kept in a cache.
_CACHED_VALUE_MAX = 256


def _json(text: str | bytes) -> bytes:
    """``text`` as a JSON string, as orjson writes it (header values are read as Latin-1)."""
    return orjson.dumps(text if isinstance(text, str) else text.decode("latin-1"))


@functools.lru_cache(maxsize=64)
def _method_pieces(method: str) -> tuple[bytes, bytes]:
    """What precedes the path in the message, and ``http.request.method``."""
    text = _json(method)
    return b'","log.level":"info","message":"' + text[1:-1] + b" ", (
        b'},"http":{"request":{"method":' + text
    )


@functools.lru_cache(maxsize=64)
def _version_piece(http_version: str) -> bytes:
    """What follows the path in the message, up to the duration."""
    return b' HTTP/%s","ecs.version":%s,"event":{"duration":' % (
        _json(http_version)[1:-1],
        _json(ECS_VERSION),
    )


@functools.lru_cache(maxsize=4096)
def _source_field(client: str) -> bytes:
    return b',"source":' + orjson.dumps(_source(client))


def _trace_fields(trace: tuple[str, str]) -> bytes:
    return b',"trace":{"id":%s},"transaction":{"id":%s}' % (_json(trace[0]), _json(trace[1]))


def _host_fields(host: bytes) -> tuple[bytes, bytes]:
    """``url.domain`` (with the comma after it) and ``url.port`` (with the comma before
    it, or nothing) of a ``Host`` header."""
    if len(host) <= _CACHED_VALUE_MAX:
        return _cached_host_fields(host)
    return _render_host_fields(host)


def _render_host_fields(host: bytes) -> tuple[bytes, bytes]:
    domain, port = split_host(host.decode("latin-1"))
    return b'"domain":%s,' % orjson.dumps(domain), b',"port":%d' % port if port else b""


_cached_host_fields = functools.lru_cache(maxsize=256)(_render_host_fields)


def _agent_field(agent: bytes) -> bytes:
    """``user_agent.original``, with the comma before it."""
    if len(agent) <= _CACHED_VALUE_MAX:
        return _cached_agent_field(agent)
    return _render_agent_field(agent)


def _render_agent_field(agent: bytes) -> bytes:
    return b',"user_agent":{"original":%s}' % _json(agent)


_cached_agent_field = functools.lru_cache(maxsize=256)(_render_agent_field)

#: The millisecond ``_timestamp_field`` last rendered, and its text.
_last_stamp: list[Any] = [None, b""]


def _timestamp_field(now: float) -> bytes:
    """The line's opening, ``{"@timestamp":"2024-05-27T18:03:35.489Z``: ecs-logging's
    format, remade once a millisecond."""
    tick = int(now * 1000)
    if _last_stamp[0] != tick:
        whole = int(now)
        second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        millis = int((now - whole) * 1000)
        _last_stamp[0] = tick
        _last_stamp[1] = b'{"@timestamp":"%s.%03dZ' % (second.encode(), millis)
    return _last_stamp[1]


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


def _logged_headers(headers: Headers) -> tuple[bytes | None, bytes | None, bytes | None]:
    """The first ``Host``, ``Referer`` and ``User-Agent`` values (``None`` when absent)."""
    host = referer = agent = None
    for name, value in headers:
        if name == b"host":
            host = host or value
        elif name == b"referer":
            referer = referer or value
        elif name == b"user-agent":
            agent = agent or value
    return host, referer, agent

"""Bounding incoming connections in time and number, and retiring them without losses.

uvicorn closes a keep-alive connection only after it has answered on it, and only when no
byte arrives for ``timeout_keep_alive``: a connection that never sends a request, or sends
its headers a byte at a time, stays open for ever, and so does the descriptor it holds.
``ConnectionGuard`` is mixed into the worker's protocol class to add what Go's
``http.Server`` has as ``ReadHeaderTimeout``, ``IdleTimeout`` and what a listener limit
gives:

- a request's headers must arrive within ``read_header_timeout`` of its first byte (of
  the connection's opening, for the first request), or the connection is closed;
- a connection idle between requests is closed after ``idle_timeout`` (in place of
  uvicorn's keep-alive timer, which the server turns off);
- at most ``max_connections`` are open per worker: beyond it, the connection that has
  waited longest for a request (idle, or still sending its headers) is closed to make
  room, and when every connection is busy the new one gets a 503 and is closed, so the
  process never runs out of descriptors;
- a request with a body is answered and its connection then closed (the registry reads
  no bodies), so a slow body cannot hold the connection.

Retiring a worker (a reload replaces workers; SIGTERM stops them) must lose no request.
uvicorn's graceful shutdown closes idle keep-alive connections at once, which races with
a client that is just sending its next request on one. Here, instead, a retiring worker
answers every request that arrives with ``Connection: close``, and closes a connection
that carries no request only once it has stayed idle for ``RETIRE_IDLE`` seconds since
the worker began retiring, so a client in the middle of a series of requests is told to
reconnect by an answer, not by a closed connection.

None of this costs a timer or a set update per request: a cached answer is replayed in a
few µs, and arming and cancelling a timer per request cost about 1 µs of that (as did
keeping the connections that wait for a request in an ordered set). The deadlines are
checked by a periodic sweep of the worker's connections instead (``Sweeper``), so each
fires up to two sweep intervals late (an eighth of the shortest timeout, at most a
second), never early.
"""

from __future__ import annotations

import itertools
import logging
import resource
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

log = logging.getLogger("package_registry.server")

#: A retiring worker closes a connection without a request once it has been idle this long.
RETIRE_IDLE = 2.0
#: Descriptors kept for everything but client connections (files, memfds, the listener).
FD_RESERVE_SHARE = 2
#: Sweeps per shortest timeout (see ``Sweeper``), within these bounds in seconds.
SWEEPS_PER_TIMEOUT = 8
SWEEP_MIN = 0.01
SWEEP_MAX = 1.0
BUSY_ANSWER = (
    STATUS_LINE[503]
    + b"content-type: text/plain; charset=utf-8\r\ncontent-length: 20\r\n"
    + b"connection: close\r\nretry-after: 1\r\n\r\nService Unavailable\n"
)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The per-worker bounds; a timeout of 0 disables it."""

    read_header_timeout: float = 60.0
    idle_timeout: float = 75.0
    max_connections: int = 4096


def raise_open_file_limit() -> int:
    """Raise this process's soft descriptor limit to its hard limit; return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def effective_max_connections(requested: int, open_file_limit: int) -> int:
    """``requested``, capped so that connections take at most half of the descriptors."""
    cap = max(1, open_file_limit // FD_RESERVE_SHARE)
    if requested > cap:
        log.warning(
            "-max-connections %d lowered to %d: the open file limit is %d",
            requested,
            cap,
            open_file_limit,
        )
        return cap
    return requested


class ConnectionGuard:
    """Mixin over uvicorn's ``HttpToolsProtocol`` (or a subclass): see the module doc."""

    limits = ConnectionLimits()
    #: Set when the worker retires: answers then carry ``Connection: close``.
    retiring = False
    #: Since when the connection waits for a request, as far as the sweeps know: its
    #: opening, or the first sweep that found it had moved on (see ``Sweeper``).
    _since = 0.0
    #: The request (its header list) the last sweep found the connection on, or ``BUSY``.
    _seen: object = None
    #: The header list of the last request whose headers were complete.
    _complete: object = None
    #: Rank in the worker's order of openings: among connections waiting since the same
    #: moment (the event loop's clock is read once per turn), the first opened goes first.
    _opened = 0
    _idle_timer: Any = None

    # The attributes below come from uvicorn's protocol.
    transport: Any
    loop: Any
    connections: set[Any]
    cycle: Any
    headers: Any

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        super().connection_made(transport)  # type: ignore[misc]
        self._since = self.loop.time()
        self._opened = next(_OPENINGS)
        sweeper = _sweeper(self)
        if len(self.connections) > self.limits.max_connections and not sweeper.make_room(self):
            transport.write(BUSY_ANSWER)
            transport.close()
            return
        sweeper.start()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().connection_lost(exc)  # type: ignore[misc]

    def on_headers_complete(self) -> None:
        self._complete = self.headers
        super().on_headers_complete()  # type: ignore[misc]
        cycle = self.cycle
        # Not answered by a replay: a body, or retirement, closes the connection after it.
        if cycle is not None and not cycle.response_complete and (self.retiring or _has_body(self)):
            cycle.keep_alive = False

    def shutdown(self) -> None:
        """Called by uvicorn when the worker stops: see the module doc."""
        self.retiring = True
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False  # closed once answered
            return
        # Closed ``RETIRE_IDLE`` seconds from now unless a request comes: answered during
        # retirement, that request closes the connection itself.
        self._idle_timer = self.loop.call_later(RETIRE_IDLE, self._close_if_idle)

    def _close_if_idle(self) -> None:
        self._idle_timer = None
        if self._between_requests() and not self.transport.is_closing():
            self.transport.close()

    def _answering(self) -> bool:
        cycle = self.cycle
        return cycle is not None and not cycle.response_complete

    def _waiting_since(self, now: float) -> float:
        """Since when the connection waits for a request, ``now`` being a sweep's time:
        what the last sweep noted, unless it has moved on since (a request began or was
        answered); a first request's headers are waited for from the opening."""
        headers = self.headers
        if headers is self._seen or (self._seen is None and headers is not self._complete):
            return self._since
        return now

    def _between_requests(self) -> bool:
        """Not answering, and no part of a next request's headers received."""
        return not self._answering() and self.headers is self._complete


#: ``ConnectionGuard._seen`` of a connection that a sweep found answering a request.
BUSY = object()
#: Numbers the connections a worker opens (``ConnectionGuard._opened``).
_OPENINGS = itertools.count()


class Sweeper:
    """A worker's connection bookkeeping, done by a periodic sweep instead of per request.

    A request costs the guard one attribute store (``_complete``, in
    ``on_headers_complete``); everything else is read from what uvicorn's protocol keeps
    anyway. Every connection is looked at each ``interval`` seconds (an eighth of the
    shortest timeout, at most a second): one whose header list is not the one the
    previous sweep saw has moved on (a request began, or was answered), and waits from
    now; one found answering waits from the first sweep that finds it done. A
    connection that has not moved on since is closed once it has waited longer than its
    timeout: ``read_header_timeout`` while its headers are incomplete (for the first
    request, counted from the opening), ``idle_timeout`` between requests.
    """

    def __init__(self, loop: Any, connections: set[Any], limits: ConnectionLimits) -> None:
        self.loop = loop
        self.connections = connections
        self.limits = limits
        timeouts = [t for t in (limits.read_header_timeout, limits.idle_timeout) if t > 0]
        self.interval = (
            min(SWEEP_MAX, max(SWEEP_MIN, min(timeouts) / SWEEPS_PER_TIMEOUT)) if timeouts else None
        )
        self._handle: Any = None
        #: Connections to close for room, longest waiting last (see ``make_room``).
        self._candidates: list[tuple[float, int, ConnectionGuard, object]] = []

    def start(self) -> None:
        """Sweep from now on (a sweep that finds no connection stops until the next)."""
        if self._handle is None and self.interval is not None:
            self._handle = self.loop.call_later(self.interval, self.sweep)

    def sweep(self) -> None:
        self._handle = None
        self._candidates.clear()  # a second-old order is not worth keeping
        now = self.loop.time()
        header_timeout = self.limits.read_header_timeout
        idle_timeout = self.limits.idle_timeout
        for connection in list(self.connections):
            if connection.transport.is_closing():
                continue
            if connection._answering():
                connection._seen = BUSY
                continue
            headers = connection.headers
            if headers is not connection._seen:
                connection._since = connection._waiting_since(now)
                connection._seen = headers
                continue
            partial = headers is not connection._complete
            timeout = header_timeout if partial or headers is None else idle_timeout
            if timeout > 0 and now - connection._since >= timeout:
                connection.transport.close()
        if self.connections:
            self.start()

    def make_room(self, newcomer: ConnectionGuard) -> bool:
        """Close the connection that has waited longest for a request (idle, or still
        sending its headers), if any.

        The connections are ordered once and closed from that order until it runs out
        (or the next sweep), skipping those that have moved on since, so that a flood
        of new connections costs a sort per ``max_connections`` of them, not a scan each.
        """
        candidates = self._candidates
        for _ in range(2):  # the current order, then a new one
            while candidates:
                _, _, connection, seen = candidates.pop()
                if (
                    connection in self.connections
                    and not connection.transport.is_closing()
                    and not connection._answering()
                    and connection.headers is seen
                ):
                    connection.transport.close()
                    return True
            now = self.loop.time()
            candidates.extend(
                (connection._waiting_since(now), connection._opened, connection, connection.headers)
                for connection in self.connections
                if connection is not newcomer
                and not connection.transport.is_closing()
                and not connection._answering()
            )
            candidates.sort(key=_waited_since, reverse=True)
        return False


def _waited_since(candidate: tuple[float, int, ConnectionGuard, object]) -> tuple[float, int]:
    return candidate[0], candidate[1]


#: The sweeper of this worker's event loop.
_current: Sweeper | None = None


def _sweeper(connection: ConnectionGuard) -> Sweeper:
    global _current
    if (
        _current is None
        or _current.loop is not connection.loop
        or _current.connections is not connection.connections
    ):
        _current = Sweeper(connection.loop, connection.connections, connection.limits)
    return _current


def _has_body(protocol: Any) -> bool:
    for name, value in protocol.headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


def guarded(protocol: type, limits: ConnectionLimits) -> type:
    """``protocol`` with ``ConnectionGuard`` applied, bounded by ``limits``."""
    return type("Guarded" + protocol.__name__, (ConnectionGuard, protocol), {"limits": limits})

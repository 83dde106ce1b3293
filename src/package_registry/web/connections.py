"""Bounding incoming connections in time and number, and retiring them without losses.

uvicorn closes a keep-alive connection only after it has answered on it, and only when no
byte arrives for ``timeout_keep_alive``: a connection that never sends a request, or sends
its headers a byte at a time, stays open for ever, and so does the descriptor it holds.
``ConnectionGuard`` is mixed into the worker's protocol class to add what Go's
``http.Server`` has as ``ReadHeaderTimeout``, ``IdleTimeout`` and what a listener limit
gives:

- a request's headers must arrive within ``read_header_timeout`` of its first byte (of
  the connection's opening, for the first request), or the connection is closed;
- a connection idle between requests is closed after ``idle_timeout`` (uvicorn's own
  keep-alive timer, given that value);
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
"""

from __future__ import annotations

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


#: Connections of this worker waiting for a request (idle, or still sending its
#: headers), oldest first: the ones closed first to make room.
WAITING: dict[ConnectionGuard, None] = {}


class ConnectionGuard:
    """Mixin over uvicorn's ``HttpToolsProtocol`` (or a subclass): see the module doc."""

    limits = ConnectionLimits()
    #: Set when the worker retires: answers then carry ``Connection: close``.
    retiring = False
    _header_timer: Any = None
    _idle_timer: Any = None
    _partial = False

    # The attributes below come from uvicorn's protocol.
    transport: Any
    loop: Any
    connections: set[Any]
    cycle: Any
    pipeline: Any
    timeout_keep_alive_task: Any

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        super().connection_made(transport)  # type: ignore[misc]
        if len(self.connections) > self.limits.max_connections and not self._make_room():
            transport.write(BUSY_ANSWER)
            transport.close()
            return
        self._wait_for_request()
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        WAITING.pop(self, None)
        self._cancel_timers()
        super().connection_lost(exc)  # type: ignore[misc]

    def data_received(self, data: bytes) -> None:
        if self in WAITING:
            self._partial = True  # until its headers are complete
        super().data_received(data)  # type: ignore[misc]
        if self._partial:  # the headers are not all there: they have a deadline
            self._start_header_timer()

    def on_headers_complete(self) -> None:
        WAITING.pop(self, None)
        self._partial = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()  # type: ignore[misc]
        cycle = self.cycle
        if cycle is None or cycle.response_complete:  # answered already (a replay)
            if not self.transport.is_closing():
                self._wait_for_request()
        elif self.retiring or _has_body(self):
            cycle.keep_alive = False

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)  # then the next request starts now
        super().on_response_complete()  # type: ignore[misc]
        if not pipelined and not self.transport.is_closing():
            self._wait_for_request()

    def shutdown(self) -> None:
        """Called by uvicorn when the worker stops: see the module doc."""
        self.retiring = True
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False  # closed once answered
            return
        self._close_when_idle()

    def _close_when_idle(self) -> None:
        """Close the connection ``RETIRE_IDLE`` seconds from now unless a request comes:
        answered during retirement, that request closes it itself."""
        self._idle_timer = self.loop.call_later(RETIRE_IDLE, self._close_if_waiting)

    def _close_if_waiting(self) -> None:
        self._idle_timer = None
        if self in WAITING and not self._partial and not self.transport.is_closing():
            self.transport.close()

    def _wait_for_request(self) -> None:
        self._partial = False
        WAITING[self] = None

    def _start_header_timer(self) -> None:
        timeout = self.limits.read_header_timeout
        if timeout > 0 and self._header_timer is None:
            self._header_timer = self.loop.call_later(timeout, self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _make_room(self) -> bool:
        """Close the connection that has waited longest for a request, if any."""
        for oldest in WAITING:
            if oldest is not self:
                WAITING.pop(oldest)
                oldest.transport.close()
                return True
        return False

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._idle_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._idle_timer = None


def _has_body(protocol: Any) -> bool:
    for name, value in protocol.headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


def guarded(protocol: type, limits: ConnectionLimits) -> type:
    """``protocol`` with ``ConnectionGuard`` applied, bounded by ``limits``."""
    return type("Guarded" + protocol.__name__, (ConnectionGuard, protocol), {"limits": limits})

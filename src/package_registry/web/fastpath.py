"""Replaying repeated answers from uvicorn's httptools protocol, without the ASGI cycle.

A cached ``/search`` costs the application a few µs; uvicorn's per-request machinery
(scope dict, ``RequestResponseCycle``, a task, ASGI messages, header checks) costs
several times that. Answers whose bytes depend only on the request target, the catalog
snapshot and gzip negotiation (``Response.replayable``) are therefore recorded, once
written through the normal path, in a per-worker ``ReplayStore``; a later plain ``GET``
or ``HEAD`` for the same target is answered by ``ReplayProtocol`` straight from the
parser callbacks with one ``transport.write`` (status line, current ``Date``, recorded
headers, body).

Large bodies (``SENDFILE_MIN`` and up) are also copied once into a memfd when recorded
and replayed with ``sendfile(2)`` straight onto the connection's socket, the header
block going first with ``MSG_MORE`` so both leave in the same segments: the kernel then
sends the body from the memfd's pages without copying it out of Python, as nginx does
from the page cache. This is done only while the transport has nothing buffered (so the
bytes cannot overtake earlier ones) and never under TLS; whatever the socket does not
take at once is handed to the transport, which then owns ordering and flow control.

What is never replayed: requests with a body, ``Expect``, an upgrade, ``Range`` or a
conditional header (their answer depends on more than the target); requests arriving
while an earlier request on the connection is still being answered (pipelining order)
or while the transport's write buffer is full (flow control).

Replayed requests never reach the application, so the application hands each recorded
answer a ``Replayed`` hook that the protocol calls after the write: it counts the
request in the metrics and writes its request-log line, as the normal path would.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from package_registry.web.negotiation import gzip_accepted

#: The ASGI scope extension under which the protocol offers ``Recorder`` to the app.
EXTENSION = "package_registry.replay"
#: Bytes kept per worker at most (keys, header blocks, bodies and memfds), unless the
#: application sets ``STORE.max_bytes`` from its cache budget before workers fork.
MAX_BYTES = 16 * 1024 * 1024
#: What an entry costs besides its key, header block and body: the entry object, its
#: dict slot and the application's replay hook (its copies of the target are counted
#: with the key, see ``ReplayStore._cost``).
ENTRY_OVERHEAD = 400
#: Bodies above this size are handed to the transport beside the header block (one
#: ``writelines``, sent as one ``writev``) instead of being copied into one buffer.
JOIN_LIMIT = 16 * 1024
#: Bodies from this size on are also kept in a memfd and replayed with ``sendfile``.
SENDFILE_MIN = 64 * 1024
#: Request headers whose presence sends a request down the normal path.
BYPASS_HEADERS = frozenset(
    {
        b"range",
        b"if-none-match",
        b"if-modified-since",
        b"if-range",
        b"if-match",
        b"if-unmodified-since",
        b"content-length",
        b"transfer-encoding",
        b"expect",
        b"upgrade",
    }
)

#: ``replayed(method, http_version, client, request_headers, body_bytes_sent, seconds)``.
Replayed = Callable[[str, str, tuple[str, int] | None, list[tuple[bytes, bytes]], int, float], None]
#: ``record(status, headers, body, revalidate, generation, current_generation, replayed)``.
Recorder = Callable[
    [int, list[tuple[bytes, bytes]], bytes, bool, int, Callable[[], int], Replayed | None], None
]


class Entry:
    """One recorded answer: its header block (ending with the blank line) and body."""

    __slots__ = ("body", "fd", "head", "replayed", "tick")

    def __init__(
        self, head: bytes, body: bytes, tick: object | None, replayed: Replayed | None = None
    ) -> None:
        self.head = head
        self.body = body
        #: The application's metrics and request-log hook, if it has anything to do.
        self.replayed = replayed
        #: A memfd holding ``body`` for ``sendfile`` (bodies of ``SENDFILE_MIN`` bytes and
        #: more), given by the store and shared by every entry with the same body object.
        self.fd: int | None = None
        #: For answers read from files: the ``Date`` tick they were recorded in; they
        #: are replayed within that second only, so a file changed on disk without a
        #: reload is seen about as soon as the file cache's own check would see it.
        self.tick = tick


class _Body:
    """A body held by the store: its memfd and how many entries use it."""

    __slots__ = ("body", "cost", "entries", "fd")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.fd = _memfd(body) if len(body) >= SENDFILE_MIN else None
        #: The body, and its memfd's pages when there is one.
        self.cost = len(body) * (2 if self.fd is not None else 1)
        self.entries = 0


class ReplayStore:
    """Recorded answers by (raw target, accepts gzip), at most ``max_bytes`` in all,
    dropped on a new catalog.

    Every byte a client's choice of targets can make the store hold is counted: each
    key, header block and entry, and each distinct body with its memfd once — targets
    answered with the same body object (queries the answer cache found equivalent) share
    it. The oldest recorded entries go first; a body leaves with its last entry.
    """

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.entries: dict[tuple[bytes, bool], Entry] = {}
        #: Bytes currently charged.
        self.total = 0
        #: Bodies in use, by the identity of the bytes object.
        self._bodies: dict[int, _Body] = {}
        self.generation: int | None = None
        self.current_generation: Callable[[], int] | None = None

    def lookup(self, key: tuple[bytes, bool], tick: object) -> Entry | None:
        """The entry for ``key`` if it is still valid for the current catalog and tick."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        current = self.current_generation
        if current is None or current() != self.generation:
            self.clear()
            return None
        if entry.tick is not None and entry.tick is not tick:
            return None
        return entry

    def put(self, key: tuple[bytes, bool], entry: Entry, generation: int) -> None:
        if generation != self.generation:
            self.clear()
            self.generation = generation
        old = self.entries.pop(key, None)
        if old is not None:
            self._drop(key, old)
        held = self._bodies.get(id(entry.body))
        cost = self._cost(key, entry)
        if held is None:
            size = len(entry.body)
            if cost + size * (2 if size >= SENDFILE_MIN else 1) > self.max_bytes:
                return  # alone over the budget (with its memfd): served, never replayed
            held = self._bodies[id(entry.body)] = _Body(entry.body)
            self.total += held.cost
        held.entries += 1
        entry.fd = held.fd
        entries = self.entries
        entries[key] = entry
        self.total += cost
        while self.total > self.max_bytes and entries:
            first = next(iter(entries))  # oldest recorded first
            self._drop(first, entries.pop(first))

    @staticmethod
    def _cost(key: tuple[bytes, bool], entry: Entry) -> int:
        # The target three times: the key, and the application's replay hook, which holds
        # the path and query and their request-log rendering (``accesslog.LineTarget``).
        return 3 * len(key[0]) + len(entry.head) + ENTRY_OVERHEAD

    def _drop(self, key: tuple[bytes, bool], entry: Entry) -> None:
        self.total -= self._cost(key, entry)
        entry.fd = None
        held = self._bodies.get(id(entry.body))
        if held is None:
            return
        held.entries -= 1
        if held.entries == 0:
            del self._bodies[id(entry.body)]
            self.total -= held.cost
            if held.fd is not None:
                os.close(held.fd)

    def clear(self) -> None:
        for key, entry in self.entries.items():
            self._drop(key, entry)
        self.entries.clear()
        self.total = 0


#: One store per worker process (workers are forked before they serve anything).
STORE = ReplayStore()


class ReplayProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a replay of recorded answers before the ASGI path."""

    _replayed = False
    _date_source: object = None
    _date_block = b""
    #: The connection's socket as (fd, family, type) when ``sendfile`` may write to it.
    _raw: tuple[int, int, int] | None = None
    #: Set while the worker retires (``web/connections.py``): answers close the connection.
    retiring = False

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def,override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if self.scheme == "http" and sock is not None:
            self._raw = (sock.fileno(), sock.family, sock.type)

    def on_message_begin(self) -> None:
        # The scope is built only when the request takes the normal path.
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self._replayed = False

    def on_headers_complete(self) -> None:
        parser = self.parser
        method = parser.get_method()
        key = None
        if method in (b"GET", b"HEAD") and not parser.should_upgrade():
            gzip = None
            for name, value in self.headers:
                if name in BYPASS_HEADERS:
                    break
                if name == b"accept-encoding" and gzip is None:
                    gzip = gzip_accepted(value)
            else:
                key = (self.url, bool(gzip))
                if self._replay(key, method):
                    return
        self._unset_keepalive_if_required()
        self._build_scope()
        if key is not None and method == b"GET":
            self.scope["extensions"] = {EXTENSION: _recorder(key, self.server_state)}
        super().on_headers_complete()

    def _replay(self, key: tuple[bytes, bool], method: bytes) -> bool:
        """Write the recorded answer for ``key`` if there is one and order allows it now."""
        cycle = self.cycle
        if (cycle is not None and not cycle.response_complete) or self.pipeline:
            return False  # an earlier request is still being answered: keep the order
        transport = self.transport
        if self.flow.write_paused or transport.is_closing():
            return False
        state = self.server_state
        defaults = state.default_headers
        entry = STORE.lookup(key, defaults)
        if entry is None:
            return False
        started = time.perf_counter()
        if defaults is not self._date_source:
            self._date_source = defaults
            self._date_block = b"".join(b"%s: %s\r\n" % pair for pair in defaults)
        parser = self.parser
        keep_alive = (
            not self.retiring and parser.get_http_version() != "1.0" and parser.should_keep_alive()
        )
        head = entry.head if keep_alive else entry.head[:-2] + b"connection: close\r\n\r\n"
        body = entry.body
        head_only = method == b"HEAD"
        if head_only:
            transport.write(STATUS_LINE[200] + self._date_block + head)
        elif entry.fd is not None and self._raw and not transport.get_write_buffer_size():
            self._sendfile(STATUS_LINE[200] + self._date_block + head, body, entry.fd)
        elif len(body) > JOIN_LIMIT:
            transport.writelines((STATUS_LINE[200] + self._date_block + head, body))
        else:
            transport.write(b"".join((STATUS_LINE[200], self._date_block, head, body)))
        self._replayed = True
        state.total_requests += 1
        if entry.replayed is not None:
            entry.replayed(
                method.decode(),
                parser.get_http_version(),
                self.client,
                self.headers,
                0 if head_only else len(body),
                time.perf_counter() - started,
            )
        if not keep_alive:
            transport.close()
        # No keep-alive timer is armed: idle connections are closed by the connection
        # guard's sweep (``web/connections.py``), which the server always applies.
        return True

    def _sendfile(self, head: bytes, body: bytes, memfd: int) -> None:
        """Send ``head`` and then ``body`` from ``memfd`` on the socket itself, handing
        the transport whatever the socket does not take now."""
        assert self._raw is not None
        fd, family, kind = self._raw
        # A socket object over the transport's descriptor, detached again below so that
        # it never closes it. Python's own blocking flag is irrelevant: the descriptor is
        # non-blocking, so a full send buffer raises BlockingIOError instead of waiting.
        sock = socket.socket(family, kind, 0, fd)
        try:
            sent = sock.send(head, socket.MSG_MORE)
            if sent < len(head):
                self.transport.writelines((memoryview(head)[sent:], body))
                return
            sent = os.sendfile(fd, memfd, 0, len(body))
        except BlockingIOError:
            sent = 0
        except OSError:  # the peer is gone: let the transport notice and clean up
            self.transport.abort()
            return
        finally:
            sock.detach()
        if sent < len(body):
            self.transport.write(memoryview(body)[sent:])

    def _build_scope(self) -> None:
        """What ``HttpToolsProtocol.on_message_begin`` builds, for the normal path."""
        self.scope = {  # type: ignore[typeddict-item]
            "type": "http",
            "asgi": {"version": self.config.asgi_version, "spec_version": "2.3"},
            "http_version": "1.1",
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,  # type: ignore[typeddict-item]
            "root_path": self.root_path,
            "headers": self.headers,
            "state": self.app_state.copy(),
        }

    def on_body(self, body: bytes) -> None:
        if not self._replayed:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._replayed:
            super().on_message_complete()


def _recorder(key: tuple[bytes, bool], state: object) -> Recorder:
    """The hook the app calls with a replayable answer it has just written for ``key``."""

    def record(
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        revalidate: bool,
        generation: int,
        current_generation: Callable[[], int],
        replayed: Replayed | None,
    ) -> None:
        if status != 200:
            return
        head = b"".join(b"%s: %s\r\n" % (k.lower(), v) for k, v in headers) + b"\r\n"
        tick = getattr(state, "default_headers", None) if revalidate else None
        STORE.current_generation = current_generation
        STORE.put(key, Entry(head, body, tick, replayed), generation)

    return record


def _memfd(body: bytes) -> int | None:
    """An anonymous in-memory file holding ``body``, or ``None`` where there is none."""
    try:
        fd = os.memfd_create("replay", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux, or out of descriptors
        return None
    try:
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        os.close(fd)
        return None
    return fd

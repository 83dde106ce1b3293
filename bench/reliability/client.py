"""A small HTTP/1.1 keep-alive client on asyncio, and a load loop over many of them.

Why not wrk: the scenarios need more than counts — each answer's status checked against
what that request must get, bodies read (a ``/search`` answer is compared with catalog
states, then its packages asked for on the same connection), clients that read slowly or
never finish their headers. One asyncio process (uvloop when installed) drives 256
keep-alive connections on one core, leaving the other to the registry's workers; its
latencies include the client's own queueing, so they are an upper bound (documented in
docs/reliability.md). Requests are written byte for byte as given: paths are not
normalised, so hostile targets reach the server unchanged.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

MAX_HEADER = 1 << 20


class Dropped(Exception):
    """The connection ended (or reset) before a whole answer arrived."""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    latency: float

    def text(self) -> str:
        body = self.body
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        return body.decode("utf-8", "replace")

    @property
    def closes(self) -> bool:
        return self.headers.get("connection", "").lower() == "close"


class Connection:
    """One keep-alive connection; requests on it run one after the other."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, limit=MAX_HEADER
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None

    @property
    def is_open(self) -> bool:
        return self.writer is not None

    async def request(
        self,
        method: str,
        target: str | bytes,
        headers: Iterable[tuple[str, str] | tuple[bytes, bytes]] = (),
        *,
        timeout: float = 10.0,
        max_body: int = 64 << 20,
    ) -> Reply:
        """Send one request, read its whole answer; TimeoutError or Dropped otherwise."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        raw_target = target.encode("latin-1") if isinstance(target, str) else target
        lines = [b"%s %s HTTP/1.1" % (method.encode(), raw_target), b"Host: 127.0.0.1"]
        for name, value in headers:
            name_b = name.encode("latin-1") if isinstance(name, str) else name
            value_b = value.encode("latin-1") if isinstance(value, str) else value
            lines.append(name_b + b": " + value_b)
        began = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                self.writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
                reply = await self._read(method, max_body)
        except TimeoutError:
            self.close()
            raise
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self.close()
            raise Dropped(f"{type(exc).__name__}: {exc}") from None
        reply.latency = time.perf_counter() - began
        if reply.closes:
            self.close()
        return reply

    async def _read(self, method: str, max_body: int) -> Reply:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise ValueError(f"not an HTTP status line: {status_line[:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                if size > max_body:
                    raise ValueError("chunk too large")
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(chunks)
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if length > max_body:
                raise ValueError(f"body of {length} bytes")
            body = await self.reader.readexactly(length)
        else:
            body = await self.reader.read(max_body)
            headers["connection"] = "close"
        return Reply(status, headers, body, 0.0)


@dataclass
class Stats:
    """Every answer of a load: latencies, statuses, what was not expected."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    @property
    def failed(self) -> int:
        return sum(self.unexpected.values()) + sum(self.errors.values())

    def note(self, text: str) -> None:
        if len(self.examples) < 5:
            self.examples.append(text)

    def percentile(self, fraction: float) -> float:
        """Latency at ``fraction`` (0.99 → p99) in milliseconds; 0 when nothing answered."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000


class Worker:
    """A connection that records every call in ``stats`` and reopens after a close."""

    def __init__(self, host: str, port: int, stats: Stats, timeout: float = 10.0) -> None:
        self.connection = Connection(host, port)
        self.stats = stats
        self.timeout = timeout
        #: Bumped each time the connection is (re)opened: "same connection" checks use it.
        self.generation = 0

    async def call(
        self,
        target: str,
        expect: Iterable[int] = (200,),
        *,
        method: str = "GET",
        headers: Iterable[tuple[str, str]] = (),
        kind: str = "",
    ) -> Reply | None:
        """One request; ``None`` when it got no answer (timeout, reset, closed)."""
        if not self.connection.is_open:
            self.generation += 1
        try:
            reply = await self.connection.request(method, target, headers, timeout=self.timeout)
        except TimeoutError:
            self.stats.errors["timeout"] += 1
            self.stats.note(f"timeout {method} {target}")
            return None
        except Dropped as exc:
            self.stats.errors["dropped"] += 1
            self.stats.note(f"dropped {method} {target}: {exc}")
            return None
        self.stats.latencies.append(reply.latency)
        self.stats.statuses[reply.status] += 1
        if reply.status not in tuple(expect):
            self.stats.unexpected[f"{kind or target} {reply.status}"] += 1
            self.stats.note(f"{reply.status} for {method} {target}: {reply.body[:120]!r}")
        return reply

    def close(self) -> None:
        self.connection.close()


async def run_load(
    host: str,
    port: int,
    connections: int,
    seconds: float,
    session: Callable[[Worker], Awaitable[None]],
    stats: Stats,
    *,
    timeout: float = 10.0,
    stop: asyncio.Event | None = None,
) -> None:
    """``connections`` workers each run ``session`` again and again for ``seconds``
    (or until ``stop`` is set)."""
    deadline = time.monotonic() + seconds

    async def loop(index: int) -> None:
        worker = Worker(host, port, stats, timeout)
        await asyncio.sleep(index * 0.002)  # do not open every connection in one burst
        try:
            while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
                await session(worker)
        finally:
            worker.close()

    await asyncio.gather(*(loop(i) for i in range(connections)))


def run(coroutine: Awaitable[object]) -> object:
    """Run ``coroutine`` on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    return uvloop.run(coroutine)  # type: ignore[arg-type]

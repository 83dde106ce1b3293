"""Slow clients: 500 connections that never finish a request and one client reading a
5 MB download at 10 KB/s, next to normal traffic.

The p99 of 16 connections of small requests (search, package documents, icons) is
measured alone, then again while 250 connections sit idle without sending a byte, 250
more have sent half a request's headers, and the slow reader drains its download.
Passes when every normal request is answered and the second p99 is at most twice the
first (a 5 ms floor keeps a very fast baseline from making noise a failure). Figures
also say how many of the 500 the server had closed by the end, and which timeout flags
``package-registry -h`` lists; once a header timeout flag exists, it is set to 2 s and
every half-sent request must have been closed by the end.
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import socket
import time
import zipfile
from pathlib import Path

from reliability.client import Stats, Worker, run, run_load
from reliability.harness import EXAMPLES, Outcome, Registry, Settings, help_text

IDLE = 500
CONNECTIONS = 16
PAYLOAD = 5_000_000
RATE = 10_000  # bytes per second read by the slow client
FLOOR_MS = 5.0


def _big_zip(root: Path) -> str:
    """``sample_logs-99.0.1.zip``: sample_logs 1.0.0 plus 5 MB that do not compress."""
    source = EXAMPLES / "sample_logs" / "1.0.0"
    top = "sample_logs-99.0.1"
    with zipfile.ZipFile(root / f"{top}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if not path.is_file():
                continue
            data = path.read_bytes()
            if path.name == "manifest.yml" and path.parent == source:
                data = re.sub(rb"(?m)^version: .*$", b"version: 99.0.1", data)
            if path.name == "changelog.yml" and path.parent == source:
                data = data.replace(b'"1.0.0"', b'"99.0.1"', 1)
            archive.writestr(f"{top}/{path.relative_to(source)}", data)
        payload = random.Random(1).randbytes(PAYLOAD)
        archive.writestr(f"{top}/docs/payload.bin", payload, compress_type=zipfile.ZIP_STORED)
    return f"/epr/sample_logs/{top}.zip"


async def _normal(worker: Worker) -> None:
    roll = random.random()
    if roll < 0.4:
        await worker.call("/search?kibana.version=8.15.0", kind="search")
    elif roll < 0.7:
        await worker.call("/package/sample_logs/1.0.0/", kind="package")
    else:
        await worker.call("/package/sample_logs/1.0.0/img/icon.svg", (200, 404), kind="icon")


def _measure(port: int, seconds: float) -> Stats:
    stats = Stats()
    run(run_load("127.0.0.1", port, CONNECTIONS, seconds, _normal, stats))
    return stats


async def _slow_read(port: int, target: str, seconds: float) -> int:
    """Read ``target`` at RATE bytes per second for ``seconds``; returns bytes read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    total, began = 0, time.monotonic()
    try:
        while time.monotonic() - began < seconds:
            chunk = await loop.sock_recv(sock, RATE // 10)
            if not chunk:
                break
            total += len(chunk)
            await asyncio.sleep(0.1)
    finally:
        sock.close()
    return total


def slow_clients(settings: Settings, outcome: Outcome) -> None:
    directory = settings.work / "slow-clients"
    shutil.rmtree(directory, ignore_errors=True)
    root = directory / "packages"
    shutil.copytree(EXAMPLES, root)
    download = _big_zip(root)
    usage = help_text()
    header_flag = re.search(r"-([a-z-]*header[a-z-]*timeout)\b", usage)
    extra = [f"-{header_flag.group(1)}=2s"] if header_flag else []
    registry = Registry(
        directory, [root], ["-workers=2", "-require-package-signatures=false", *extra]
    ).start()
    idle: list[socket.socket] = []
    try:
        _measure(registry.port, 2)  # warm the answer caches
        before = _measure(registry.port, settings.slow_seconds)
        for index in range(IDLE):
            sock = socket.create_connection(("127.0.0.1", registry.port))
            if index % 2:
                sock.sendall(b"GET /search HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            idle.append(sock)
        during = Stats()

        async def loaded() -> int:
            reader = asyncio.ensure_future(
                _slow_read(registry.port, download, settings.slow_seconds + 1)
            )
            await run_load(
                "127.0.0.1", registry.port, CONNECTIONS, settings.slow_seconds, _normal, during
            )
            return await reader

        slow_bytes = run(loaded())
        states = [_closed(sock) for sock in idle]
        closed, partial_closed = sum(states), sum(states[1::2])
    finally:
        for sock in idle:
            sock.close()
        registry.stop()
    base, loaded_p99 = before.percentile(0.99), during.percentile(0.99)
    limit = 2 * max(base, FLOOR_MS)
    flags = [f for f in re.findall(r"-([a-z-]*timeout[a-z-]*)", usage) if "shutdown" not in f]
    outcome.figures.update(
        p99_alone_ms=base,
        p99_with_slow_ms=loaded_p99,
        requests=before.requests + during.requests,
        failed=before.failed + during.failed,
        slow_reader_kb_s=slow_bytes / 1000 / (settings.slow_seconds + 1),
        idle_closed_by_server=f"{closed}/{IDLE}",
        timeout_flags=",".join(sorted(set(flags))) or "none",
    )
    outcome.check(before.failed + during.failed == 0, f"failed: {during.examples[:2]}")
    outcome.check(loaded_p99 <= limit, f"p99 {loaded_p99:.1f} ms > {limit:.1f} ms")
    if header_flag:  # only once the registry has one: headers must then arrive in time
        outcome.check(
            partial_closed == IDLE // 2,
            f"{IDLE // 2 - partial_closed} half-sent requests still open after "
            f"-{header_flag.group(1)}=2s",
        )


def _closed(sock: socket.socket) -> bool:
    """Whether the server has closed ``sock`` (after an answer such as 408, or none)."""
    sock.setblocking(False)
    try:
        while sock.recv(65536):
            pass
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True

"""Incoming connections are bounded in time and number (``web/connections.py``).

Each test runs a real server and talks to it with raw sockets: a client that never
finishes its headers, one that stays idle, and more idle connections than the worker may
hold (also under a 1,024-descriptor limit, where they used to starve normal requests).
"""

from __future__ import annotations

import resource
import socket
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import (
    EXAMPLES,
    RunningRegistry,
    eventually,
    start_registry,
    stop,
    write_config,
)
from tests.web.test_lifecycle import BIG_FILE, with_big_file
from tests.web.test_lifecycle import connect as stalled_connection

GET = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"


def connect(server: RunningRegistry) -> socket.socket:
    parsed = urllib.parse.urlsplit(server.base_url)
    return socket.create_connection((parsed.hostname, parsed.port), timeout=10)


def closed_after(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes ``sock`` (reading and discarding any answer)."""
    started = time.monotonic()
    sock.settimeout(limit)
    while sock.recv(65536):
        pass
    return time.monotonic() - started


def answers(server: RunningRegistry) -> bool:
    with connect(server) as sock:
        sock.sendall(GET)
        return sock.recv(65536).startswith(b"HTTP/1.1 200 ")


def test_headers_must_arrive_within_the_read_header_timeout(registry):
    server = registry(flags=["-workers=1", "-read-header-timeout=1s"])
    with connect(server) as silent, connect(server) as slow:
        slow.sendall(b"GET /health HTTP/1.1\r\n")
        started = time.monotonic()
        for _ in range(20):  # a header byte every 0.1 s never completes the request
            try:
                slow.sendall(b"X")
            except OSError:
                break
            time.sleep(0.1)
        assert time.monotonic() - started < 1.8
        assert closed_after(slow, 5) < 1
        assert closed_after(silent, 5) < 1
    assert answers(server)


def test_idle_keep_alive_connections_are_closed_after_the_idle_timeout(registry):
    server = registry(flags=["-workers=1", "-idle-timeout=1s", "-read-header-timeout=30s"])
    with connect(server) as sock:
        for _ in range(3):  # requests 0.5 s apart keep it open
            sock.sendall(GET)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            time.sleep(0.5)
        assert 0.3 < closed_after(sock, 5) < 1.5


def test_beyond_max_connections_the_longest_waiting_one_is_closed(registry):
    server = registry(flags=["-workers=1", "-max-connections=20"])
    with ExitStack() as stack:
        idle = [stack.enter_context(connect(server)) for _ in range(40)]
        time.sleep(0.2)
        assert answers(server)
        # The first ones were closed to make room; the last ones are still open.
        assert closed_after(idle[0], 2) < 2
        idle[-1].sendall(GET)
        assert idle[-1].recv(65536).startswith(b"HTTP/1.1 200 ")


def test_a_connection_just_used_is_not_the_one_closed_for_room(registry):
    server = registry(flags=["-workers=1", "-max-connections=5"])
    with ExitStack() as stack:
        idle = [stack.enter_context(connect(server)) for _ in range(5)]
        time.sleep(0.2)
        idle[0].sendall(GET)  # the oldest connection becomes the most recently active
        assert idle[0].recv(65536).startswith(b"HTTP/1.1 200 ")
        newcomer = stack.enter_context(connect(server))
        assert closed_after(idle[1], 2) < 2
        for sock in (idle[0], newcomer):
            sock.sendall(GET)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")


@pytest.fixture
def descriptors() -> Iterator[None]:
    """Let this test process open a few thousand sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip("the open file limit is below 4096")
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


def test_idle_sockets_beyond_the_descriptor_limit_do_not_starve_requests(
    descriptors, tmp_path: Path
):
    config = write_config(tmp_path, [EXAMPLES])
    server = start_registry(
        [f"-config={config}", "-workers=1"], cwd=tmp_path, preexec_fn=_low_fd_limit
    )
    try:
        with ExitStack() as stack:
            for _ in range(1100):
                stack.enter_context(connect(server))
            time.sleep(0.5)
            assert all(answers(server) for _ in range(5))
        assert any("-max-connections 4096 lowered to 512" in line for line in server.log_lines)
    finally:
        stop(server)


def test_when_every_connection_is_busy_a_new_one_gets_503(registry, tmp_path):
    server = registry(
        package_paths=[with_big_file(tmp_path)],
        flags=["-workers=1", "-max-connections=2", "-require-package-signatures=false"],
    )
    with ExitStack() as stack:
        for _ in range(2):  # two downloads that their clients stopped reading
            stalled = stack.enter_context(stalled_connection(server))
            stalled.sendall(f"GET {BIG_FILE} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            assert stalled.recv(1024).startswith(b"HTTP/1.1 200 ")
        with connect(server) as refused:
            assert refused.recv(65536).startswith(b"HTTP/1.1 503 ")
            assert closed_after(refused, 5) < 1
    eventually(lambda: answers(server))

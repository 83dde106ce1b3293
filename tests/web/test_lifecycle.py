"""Stopping and replacing workers, over real servers: bounded shutdown, no lost requests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, RunningRegistry

BIG_FILE = "/package/sample_content/1.0.0/img/big.bin"
BIG_SIZE = 64 * 1024 * 1024


def connect(server: RunningRegistry) -> socket.socket:
    parsed = urllib.parse.urlsplit(server.base_url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((parsed.hostname, parsed.port))
    return sock


def with_big_file(tmp_path: Path) -> Path:
    packages = tmp_path / "packages"
    shutil.copytree(EXAMPLES / "sample_content", packages / "sample_content")
    with open(packages / "sample_content" / "1.0.0" / "img" / "big.bin", "wb") as big:
        big.truncate(BIG_SIZE)
    return packages


@pytest.mark.parametrize("workers", [1, 2])
def test_shutdown_is_bounded_when_a_client_stops_reading(registry, tmp_path, workers):
    server = registry(
        package_paths=[with_big_file(tmp_path)],
        flags=[f"-workers={workers}", "-shutdown-timeout=1s", "-require-package-signatures=false"],
    )
    with connect(server) as stalled:
        stalled.sendall(f"GET {BIG_FILE} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        assert stalled.recv(1024).startswith(b"HTTP/1.1 200 ")
        time.sleep(0.5)  # the server's buffers fill up; the client reads no more
        started = time.monotonic()
        os.killpg(server.process.pid, signal.SIGTERM)
        status = server.process.wait(30)
        elapsed = time.monotonic() - started
    assert status == 0
    assert elapsed < 1 + 3, f"stopped after {elapsed:.1f}s"

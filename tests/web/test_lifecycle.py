"""Stopping and replacing workers, over real servers: bounded shutdown, no lost requests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLES, RunningRegistry, eventually

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


def test_reloads_under_keep_alive_load_drop_no_request(registry, tmp_path):
    """Ten catalog reloads replace both workers ten times while four clients keep sending
    requests on keep-alive connections: every request gets its answer."""
    packages = tmp_path / "packages"
    shutil.copytree(EXAMPLES / "sample_logs", packages / "sample_logs")
    server = registry(
        package_paths=[packages],
        flags=["-workers=2", "-package-paths-enable-watcher", "-require-package-signatures=false"],
    )
    stop = threading.Event()
    answered: list[int] = []
    failures: list[str] = []

    def client() -> None:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            while not stop.is_set():
                for path in ("/search", "/health", "/package/sample_logs/1.1.0/"):
                    try:
                        status = http.get(path).status_code
                    except httpx.HTTPError as error:
                        failures.append(f"{path}: {error!r}")
                        continue
                    answered.append(status)
                    if status != 200:
                        failures.append(f"{path}: {status}")

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for reload in range(10):
            extra = packages / "sample_input"
            if reload % 2 == 0:
                shutil.copytree(EXAMPLES / "sample_input", extra)
            else:
                shutil.rmtree(extra)
            eventually(lambda reload=reload: replaced(server) > reload, timeout=30)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert failures == [], failures[:5]
    assert len(answered) > 100
    # A copy can settle as two reloads, so the count may run ahead of the last change:
    # the final catalog is waited for rather than assumed.
    eventually(lambda: '"sample_input"' not in server.get("/search").text, timeout=30)


def replaced(server: RunningRegistry) -> int:
    """How many times the workers were replaced by ones serving a new catalog."""
    return sum("workers replaced" in line for line in server.log_lines)

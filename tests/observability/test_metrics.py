"""Prometheus metrics on their own listener, summed over every worker process."""

from __future__ import annotations

import os
import shutil
import socket
import urllib.parse

import httpx
import pytest

from tests.conftest import EXAMPLES, eventually, free_port


@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_count_requests_of_every_worker(registry, workers):
    port = free_port()
    server = registry(flags=[f"-workers={workers}", f"-metrics-address=127.0.0.1:{port}"])
    for _ in range(10):
        assert server.get("/search").status_code == 200
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("epr_http_requests_total{") and 'path="/search"' in line
    )
    assert float(line.rsplit(" ", 1)[1]) == 10
    assert "epr_number_indexed_packages" in text
    assert "epr_service_info{" in text


def test_metrics_listener_answers_404_elsewhere(registry):
    port = free_port()
    registry(flags=[f"-metrics-address=127.0.0.1:{port}"])
    r = httpx.get(f"http://127.0.0.1:{port}/other", timeout=5)
    assert (r.status_code, r.text) == (404, "404 page not found\n")


def test_main_port_has_no_metrics(examples_server):
    assert examples_server.get("/metrics").status_code == 404


def scrape(port: int) -> dict[str, float]:
    """The exposition as {series with labels: value}."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            out[series] = float(value)
    return out


def labelled(values: dict[str, float], name: str, **labels: str) -> float:
    """The sum of ``name``'s series carrying ``labels``."""
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    return sum(
        value
        for series, value in values.items()
        if series.split("{")[0] == name and all(label in series for label in wanted)
    )


def raw_get(server, target: str, headers: str = "") -> bytes:
    parsed = urllib.parse.urlsplit(server.base_url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n".encode())
        return sock.recv(65536)


def test_request_size_is_observed_for_answered_and_replayed_requests(registry):
    port = free_port()
    server = registry(flags=["-workers=1", f"-metrics-address=127.0.0.1:{port}"])
    for _ in range(3):  # the first is answered by the app, the others may be replayed
        assert raw_get(server, "/search?x=1", "X-A: b\r\n").startswith(b"HTTP/1.1 200 ")
    values = scrape(port)
    # "/search?x=1" + "GET" + "HTTP/1.1" + host value "localhost" + "x-a" + "b"
    size = 11 + 3 + 8 + 9 + 3 + 1
    name = "epr_http_request_size_bytes"
    assert labelled(values, name + "_count", path="/search", code="200") == 3
    assert labelled(values, name + "_sum", path="/search", code="200") == 3 * size


def test_strict_slash_redirects_are_counted_under_their_route(registry):
    port = free_port()
    server = registry(flags=["-workers=1", f"-metrics-address=127.0.0.1:{port}"])
    assert raw_get(server, "/search/").startswith(b"HTTP/1.1 301 ")
    assert raw_get(server, "/package/sample_logs/1.1.0").startswith(b"HTTP/1.1 301 ")
    values = scrape(port)
    total = "epr_http_requests_total"
    assert labelled(values, total, path="/search", code="301", method="get") == 1
    template = "/package/{packageName:[a-z0-9_]+}/{packageVersion}/"
    assert labelled(values, total, path=template, code="301") == 1


def test_in_flight_requests_rise_during_a_request_and_fall_after(registry, tmp_path):
    packages = tmp_path / "packages"
    shutil.copytree(EXAMPLES / "sample_content", packages / "sample_content")
    with open(packages / "sample_content" / "1.0.0" / "img" / "big.bin", "wb") as big:
        big.truncate(64 * 1024 * 1024)
    port = free_port()
    server = registry(
        package_paths=[packages],
        flags=[
            "-workers=2",
            f"-metrics-address=127.0.0.1:{port}",
            "-require-package-signatures=false",
        ],
    )
    parsed = urllib.parse.urlsplit(server.base_url)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect((parsed.hostname, parsed.port))
    with stalled:
        stalled.sendall(
            b"GET /package/sample_content/1.0.0/img/big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert stalled.recv(1024).startswith(b"HTTP/1.1 200 ")
        assert scrape(port)["epr_in_flight_requests"] == 1
    eventually(lambda: scrape(port)["epr_in_flight_requests"] == 0)


def test_live_gauges_of_replaced_workers_are_dropped(registry, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    packages = tmp_path / "packages"
    shutil.copytree(EXAMPLES / "sample_logs", packages / "sample_logs")
    port = free_port()
    server = registry(
        package_paths=[packages],
        flags=[
            "-workers=2",
            f"-metrics-address=127.0.0.1:{port}",
            "-package-paths-enable-watcher",
            "-require-package-signatures=false",
        ],
        env={"TMPDIR": str(temp)},
    )

    def live_gauge_pids() -> set[int]:
        files = temp.glob("package-registry-metrics-*/gauge_livesum_*.db")
        return {int(path.stem.rsplit("_", 1)[1]) for path in files}

    for n in range(20):  # distinct queries: each is answered by a worker's app
        assert server.get(f"/search?q={n}").status_code == 200
    before = live_gauge_pids() - {server.process.pid}  # the supervisor's stays
    assert before
    shutil.copytree(EXAMPLES / "sample_input", packages / "sample_input")
    eventually(lambda: any("workers replaced" in line for line in server.log_lines), 30)
    eventually(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in before), 30)
    eventually(lambda: not (live_gauge_pids() & before))

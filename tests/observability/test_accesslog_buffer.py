"""Buffered request lines on a real server: on time without further traffic, all of them
written when the server stops, and never torn between two workers sharing stderr (a pipe
here, as under a process supervisor)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from package_registry.observability.accesslog import FLUSH_SECONDS
from tests.conftest import stop

SEARCH = "/search?package=sample_input"


def request_lines(lines: list[str]) -> list[dict]:
    """Every line parsed (a line that is not JSON fails the test), request lines kept."""
    parsed = [json.loads(line) for line in lines if line]
    return [line for line in parsed if line.get("log", {}).get("logger") == "http"]


def test_a_line_is_written_within_a_second_without_further_traffic(registry):
    server = registry(flags=["-workers=1"])
    assert server.get(SEARCH).status_code == 200
    answered = time.monotonic()
    while not request_lines(server.log_lines) and time.monotonic() - answered < 5:
        time.sleep(0.02)
    assert time.monotonic() - answered < FLUSH_SECONDS + 0.5
    (line,) = request_lines(server.log_lines)
    assert line["url"]["path"] == "/search"


def test_every_line_is_written_when_the_server_stops(registry):
    server = registry(flags=["-workers=2"])
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for _ in range(50):
            assert client.get(SEARCH).status_code == 200
    assert stop(server) == 0  # SIGTERM well within the flush interval
    assert len(request_lines(server.log_lines)) == 50


def test_two_workers_never_tear_a_line(registry):
    server = registry(flags=["-workers=2"])
    requests, clients = 3000, 8

    def send(share: int) -> None:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            for n in range(share):
                client.get(f"{SEARCH}&n={n}", headers={"User-Agent": "u" * (n % 700)})

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, [requests // clients] * clients))
    assert stop(server) == 0
    lines = request_lines(server.log_lines)
    assert len(lines) == requests
    assert {line["http"]["response"]["code"] for line in lines} == {200}

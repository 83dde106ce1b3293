"""Elastic APM against a real HTTP intake on loopback.

No APM Server can run here, so the test runs the part of one the agent talks to: an HTTP
server that accepts the intake protocol (compressed NDJSON on ``/intake/v2/events``)
and answers the agent's server-information request. The registry is a real process.
"""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import eventually

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


class Intake(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _IntakeHandler)
        self.events: list[dict] = []

    def transactions(self) -> list[dict]:
        return [event["transaction"] for event in list(self.events) if "transaction" in event]


class _IntakeHandler(BaseHTTPRequestHandler):
    server: Intake

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        encoding = self.headers.get("content-encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.server.events.extend(json.loads(line) for line in body.splitlines() if line)
        self._answer(202, b"")

    def do_GET(self) -> None:
        self._answer(200, b'{"version": "8.15.0"}')

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def intake() -> Iterator[Intake]:
    server = Intake()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def apm_environment(intake: Intake) -> dict[str, str]:
    return {
        "ELASTIC_APM_SERVER_URL": f"http://127.0.0.1:{intake.server_address[1]}",
        "ELASTIC_APM_API_REQUEST_TIME": "100ms",
        "ELASTIC_APM_METRICS_INTERVAL": "0s",
        "ELASTIC_APM_CENTRAL_CONFIG": "false",
        "ELASTIC_APM_CLOUD_PROVIDER": "none",
    }


@pytest.mark.parametrize("workers", [1, 2])
def test_requests_become_transactions(registry, intake, workers):
    server = registry(flags=[f"-workers={workers}"], env=apm_environment(intake))
    for _ in range(3):  # the first answer is computed, the next ones replayed
        assert server.get("/search?package=sample_logs").status_code == 200
    assert server.get("/categories", headers={"traceparent": TRACEPARENT}).status_code == 200
    assert server.get("/package/nothing/1.0.0/").status_code == 404

    def by_name() -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        for transaction in intake.transactions():
            found.setdefault(transaction["name"], []).append(transaction)
        return found

    def complete() -> bool:  # /health probes at start-up are transactions too
        found = by_name()
        return (
            len(found.get("GET /search", [])) == 3
            and "GET /categories" in found
            and any(t["result"] == "HTTP 4xx" for ts in found.values() for t in ts)
        )

    eventually(complete)
    transactions = by_name()
    assert {t["result"] for t in transactions["GET /search"]} == {"HTTP 2xx"}
    (categories,) = transactions["GET /categories"]
    assert categories["trace_id"] == TRACE_ID
    assert all(t["type"] == "request" for ts in transactions.values() for t in ts)

    def traced() -> list[dict]:  # request lines reach stderr within a second
        lines = [line for line in server.logs() if line.get("log", {}).get("logger") == "http"]
        return [line for line in lines if line.get("url", {}).get("path") == "/categories"]

    eventually(lambda: bool(traced()))
    assert traced()[0]["trace"]["id"] == TRACE_ID
    assert traced()[0]["transaction"]["id"] == categories["id"]


def test_without_a_server_url_nothing_is_traced(examples_server):
    def lines() -> list[dict]:
        logs = examples_server.logs()
        return [line for line in logs if line.get("log", {}).get("logger") == "http"]

    assert examples_server.get("/search?package=sample_input").status_code == 200
    eventually(lambda: any(line.get("url", {}).get("path") == "/search" for line in lines()))
    assert not [line for line in lines() if "trace" in line]

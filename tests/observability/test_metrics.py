"""Prometheus metrics on their own listener, summed over every worker process."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import free_port


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

"""Every ``epr_*`` Prometheus series, declared once, and the listener that serves them.

Metrics exist only when ``-metrics-address`` is set, as in the reference. With several
HTTP worker processes the series are aggregated through prometheus-client's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``), which the command line sets up
before anything imports prometheus-client.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from package_registry.observability.listener import serve_in_thread

SIZE_BUCKETS = (16, 32, 64, 128, 256, 512, 1024, 65536, 262144)
METHODS = {"get", "head", "post", "put", "delete", "connect", "options", "trace", "patch"}


class Metrics:
    """The registry's series on one ``CollectorRegistry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        labels = ("code", "method", "path")
        kw = {"namespace": "epr", "registry": self.registry}
        self.service_info = Gauge(
            "service_info",
            "Version information about this binary",
            ("version", "instance"),
            multiprocess_mode="max",
            **kw,
        )
        self.indexed_packages = Gauge(
            "number_indexed_packages", "Number of indexed packages", multiprocess_mode="max", **kw
        )
        self._declare_storage_series(kw)
        self.in_flight = Gauge(
            "in_flight_requests", "Requests being served", multiprocess_mode="livesum", **kw
        )
        self.requests = Counter("http_requests_total", "HTTP requests processed", labels, **kw)
        self.duration = Histogram(
            "http_request_duration_seconds", "HTTP request latencies in seconds", labels, **kw
        )
        self.request_size = Histogram(
            "http_request_size_bytes",
            "HTTP request sizes in bytes",
            labels,
            buckets=SIZE_BUCKETS,
            **kw,
        )
        self.publish_requests = Counter(
            "publish_requests_total",
            "Publish and delete requests (POST and DELETE /api/v1/packages) by action and "
            "answer status.",
            ("action", "result"),
            **kw,
        )
        self.response_size = Histogram(
            "http_response_size_bytes",
            "HTTP response sizes in bytes",
            labels,
            buckets=SIZE_BUCKETS,
            **kw,
        )

    # --- storage: the bucket index and package files (names, labels, help and buckets
    # --- as the reference's metrics package declares them) -------------------------------

    #: ``indexer`` label of ``epr_indexer_get_duration_seconds``: the storage indexer in
    #: use (``StorageIndexer`` or ``SQLStorageIndexer``), ``None`` without one.
    indexer: str | None = None
    #: Go's ``prometheus.DefBuckets``, which the reference's latency histograms use.
    GO_DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

    def _declare_storage_series(self, kw: dict[str, Any]) -> None:
        self.storage_requests = Counter(
            "storage_requests_total",
            "A counter for requests performed to the storage.",
            ("location", "component"),
            **kw,
        )
        self.storage_update_success = Counter(
            "storage_indexer_update_index_success_total",
            "A counter for all the updates index of the cursor that finished successfully "
            "in the storage indexer.",
            **kw,
        )
        self.storage_update_errors = Counter(
            "storage_indexer_update_index_error_total",
            "A counter for all the update index of the cursor that finished with error in "
            "the storage indexer.",
            **kw,
        )
        self.storage_update_duration = Histogram(
            "storage_indexer_update_index_duration_seconds",
            "A histogram of latencies for update index processes run by the storage indexer.",
            buckets=self.GO_DEFAULT_BUCKETS,
            **kw,
        )
        self.indexer_get_duration = Histogram(
            "indexer_get_duration_seconds",
            "A histogram of latencies for get processes run by the indexer.",
            ("indexer",),
            buckets=self.GO_DEFAULT_BUCKETS,
            **kw,
        )

    def count_storage_request(self, location: str, component: str) -> None:
        """One package file served: ``location`` is ``local`` or ``remote`` (relayed from
        the storage endpoint), ``component`` ``artifacts``, ``signatures`` or ``statics``."""
        self.storage_requests.labels(location, component).inc()

    def observe_storage_update(self, seconds: float, *, changed: bool, failed: bool) -> None:
        """One update of the storage index: a success only when it loaded a new cursor."""
        self.storage_update_duration.observe(seconds)
        if failed:
            self.storage_update_errors.inc()
        elif changed:
            self.storage_update_success.inc()

    def observe_indexer_get(self, seconds: float) -> None:
        """One request that asked the storage indexer's catalog for packages."""
        if self.indexer is not None:
            self.indexer_get_duration.labels(self.indexer).observe(seconds)

    # --- HTTP -------------------------------------------------------------------------------

    def describe_service(self, version: str, packages: int) -> None:
        self.service_info.labels(version=version, instance=socket.gethostname() or "localhost").set(
            1
        )
        self.indexed_packages.set(packages)

    # HTTP middleware series: what promhttp's Instrument* handlers record per request.

    def observe_request(
        self, method: str, template: str, status: int, seconds: float, sent: int, received: int
    ) -> None:
        """One answered request; ``received`` is its :func:`request_size`."""
        lowered = method.lower()
        labels = (str(status), lowered if lowered in METHODS else "unknown", template)
        self.requests.labels(*labels).inc()
        self.duration.labels(*labels).observe(seconds)
        self.request_size.labels(*labels).observe(received)
        self.response_size.labels(*labels).observe(sent)

    def count_publish(self, action: str, status: int) -> None:
        """One publish or delete request (``action``: ``publish`` or ``delete``)."""
        self.publish_requests.labels(action, str(status)).inc()


def request_size(
    method: str, target: bytes, http_version: str, headers: Iterable[tuple[bytes, bytes]]
) -> int:
    """A request's approximate size as promhttp computes it: request target, method,
    protocol, header names and values (``Host`` as Go's ``Request.Host``), and no body
    (the registry's requests have none; Go adds ``ContentLength``)."""
    size = len(target) + len(method) + len("HTTP/") + len(http_version)
    names = set()
    for name, value in headers:
        size += len(value)
        if name != b"host" and name not in names:  # Go counts each header name once
            names.add(name)
            size += len(name)
    return size


def forget_process(pid: int) -> None:
    """Drop an exited worker's live gauges (``epr_in_flight_requests``) from the sums;
    its counters and histograms stay, so totals never go backwards."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class _MetricsHandler(BaseHTTPRequestHandler):
    """``GET /metrics`` in the Prometheus text format; any other path is a 404."""

    registry: CollectorRegistry

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            body = b"404 page not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        else:
            body = generate_latest(self.registry)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not worth a log line each."""


def serve_metrics(address: str, registry: CollectorRegistry) -> ThreadingHTTPServer:
    """Start the ``/metrics`` listener on ``host:port`` in a background thread."""
    handler = type("Handler", (_MetricsHandler,), {"registry": registry})
    return serve_in_thread(address, handler, "metrics")


def exposed_registry(metrics: Metrics) -> CollectorRegistry:
    """What the listener serves: the workers' series summed, or this process's own."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return metrics.registry
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry

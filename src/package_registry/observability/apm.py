"""Elastic APM: one transaction per answered request, as the reference reports them.

Active only when ``ELASTIC_APM_SERVER_URL`` is set, like the reference; every other
``ELASTIC_APM_*`` variable (service name, environment, secret token, sample rate…) is
read by the official agent itself. Transactions are named ``<METHOD> <route template>``
(``GET /search``) with the result ``HTTP 2xx``; an incoming ``traceparent`` header
continues the caller's trace. Requests answered by the replay protocol are reported
too, with their measured duration. Outgoing HTTP calls (proxy mode, storage) become
spans through the agent's instrumentation.

The agent runs background threads, so each worker process makes its own client on its
first request, after it was forked.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

SERVER_URL_VARIABLE = "ELASTIC_APM_SERVER_URL"

Headers = Iterable[tuple[bytes, bytes]]


class Tracing:
    """Reports requests to an APM server; ``from_environ`` gives ``None`` when not asked."""

    def __init__(self, service_name: str, service_version: str) -> None:
        self._config = {"SERVICE_NAME": service_name, "SERVICE_VERSION": service_version}
        self._pid = 0
        self._client: Any = None

    @classmethod
    def from_environ(
        cls, service_name: str, service_version: str, environ: Mapping[str, str] = os.environ
    ) -> Tracing | None:
        if not environ.get(SERVER_URL_VARIABLE):
            return None
        return cls(service_name, service_version)

    def client(self) -> Any:
        """This process's agent (made on first use; a forked worker makes its own)."""
        if self._client is None or self._pid != os.getpid():
            import elasticapm

            self._client = elasticapm.Client(self._config)
            self._pid = os.getpid()
            elasticapm.instrument()
        return self._client

    def begin(self, headers: Headers, start: float | None = None) -> None:
        """Start the request's transaction, continuing the caller's trace if it sent one."""
        import elasticapm

        parent = elasticapm.trace_parent_from_headers(
            {name.decode("latin-1"): value.decode("latin-1") for name, value in headers}
        )
        self.client().begin_transaction("request", trace_parent=parent, start=start)

    def end(
        self,
        method: str,
        template: str,
        path: str,
        query: str,
        status: int,
        duration: float | None = None,
    ) -> None:
        """Finish the current transaction with the request and response context."""
        import elasticapm

        elasticapm.set_context(
            {"method": method, "url": {"pathname": path, "search": f"?{query}" if query else ""}},
            "request",
        )
        elasticapm.set_context({"status_code": status}, "response")
        name = f"{method} {template}" if template else method
        self.client().end_transaction(name, f"HTTP {status // 100}xx", duration=duration)

    def ids(self) -> tuple[str, str] | None:
        """(trace id, transaction id) of the current transaction, for the request log."""
        import elasticapm

        trace, transaction = elasticapm.get_trace_id(), elasticapm.get_transaction_id()
        return (trace, transaction) if trace and transaction else None

    def replayed(
        self,
        method: str,
        template: str,
        path: str,
        query: str,
        headers: Headers,
        seconds: float,
    ) -> tuple[str, str] | None:
        """Report a replayed request that took ``seconds``; its ids for the request log."""
        self.begin(headers, start=time.time() - seconds)
        ids = self.ids()
        self.end(method, template, path, query, 200, duration=seconds)
        return ids

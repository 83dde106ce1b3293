"""Log output as the reference writes it: ECS JSON lines (default) or a console format.

``-log-type=ecs`` gives one ECS JSON object per line on stderr with ``service.name``
and ``service.version`` on every line; ``-log-type=dev`` gives readable lines for a
terminal. ``request_fields`` builds the fields of the per-request access log line.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from typing import Any

import ecs_logging

#: The request log's logger, named as the reference names it (``log.logger: http``).
ACCESS_LOGGER = "http"

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "dpanic": logging.CRITICAL,
    "panic": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


class _ServiceFields(logging.Filter):
    """Adds ``service.*`` (and ``service.environment`` when set) to every record."""

    def __init__(self, name: str, version: str, environment: str | None) -> None:
        super().__init__()
        self._fields: dict[str, str] = {"service.name": name, "service.version": version}
        if environment:
            self._fields["service.environment"] = environment

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.update(self._fields)
        return True


class _DevFormatter(logging.Formatter):
    """``time level logger message key=value…`` for people reading a terminal."""

    _standard = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {
            k: v
            for k, v in record.__dict__.items()
            if k not in self._standard and not k.startswith("service.")
        }
        if extras:
            line += "  " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def setup_logging(level: str, log_type: str, service_name: str, service_version: str) -> None:
    """Route every ``package_registry`` logger to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if log_type == "dev":
        handler.setFormatter(_DevFormatter("%(asctime)s\t%(levelname)s\t%(name)s\t%(message)s"))
    else:
        handler.setFormatter(
            ecs_logging.StdlibFormatter(exclude_fields=["process", "log.original"])
        )
    handler.addFilter(
        _ServiceFields(service_name, service_version, os.environ.get("ELASTIC_APM_ENVIRONMENT"))
    )
    for name in ("package_registry", ACCESS_LOGGER):
        ours = logging.getLogger(name)
        ours.handlers[:] = [handler]
        ours.setLevel(LEVELS.get(level, logging.INFO))
        ours.propagate = False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "granian"):
        other = logging.getLogger(name)
        other.handlers[:] = [handler]
        other.setLevel(logging.WARNING)
        other.propagate = False


def request_fields(scope: dict[str, Any], status: int, sent: int, seconds: float) -> dict[str, Any]:
    """The reference's access-log fields for one answered request."""
    fields: dict[str, Any] = {
        "http.request.method": scope["method"],
        "url.path": scope["path"],
        "http.response.code": status,
        "http.response.body.bytes": sent,
        "event.duration": int(seconds * 1e9),
    }
    client = scope.get("client")
    if client:
        host = client[0]
        fields["source.address"] = host
        try:
            ipaddress.ip_address(host)
            fields["source.ip"] = host
        except ValueError:
            fields["source.domain"] = host
    headers = {}
    for key, value in scope["headers"]:
        if key in (b"host", b"referer", b"user-agent") and key not in headers:
            headers[key] = value.decode("latin-1")
    host_header = headers.get(b"host")
    if host_header:
        domain, port = _split_host(host_header)
        fields["url.domain"] = domain
        if port:
            fields["url.port"] = port
    if b"referer" in headers:
        fields["http.request.referer"] = headers[b"referer"]
    if b"user-agent" in headers:
        fields["user_agent.original"] = headers[b"user-agent"]
    query = scope.get("query_string", b"")
    if query:
        fields["url.query"] = query.decode("latin-1")
    return fields


def _split_host(host: str) -> tuple[str, int | None]:
    """``Host`` header → (domain, port); IPv6 literals keep their brackets."""
    if host.startswith("["):
        end = host.find("]")
        domain, rest = host[: end + 1], host[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        domain, _, port_text = host.partition(":")
    port = int(port_text) if port_text.isdigit() and int(port_text) > 0 else None
    return domain, port

"""Log output as the reference writes it: ECS JSON lines (default) or a console format.

``-log-type=ecs`` gives one ECS JSON object per line on stderr with ``service.name``
and ``service.version`` on every line; ``-log-type=dev`` gives readable lines for a
terminal. The per-request line is written by ``accesslog.REQUEST_LOG``, configured here.
"""

from __future__ import annotations

import logging
import os
import sys

import ecs_logging

from package_registry.observability.accesslog import ACCESS_LOGGER, REQUEST_LOG

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
        self.fields: dict[str, str] = {"service.name": name, "service.version": version}
        if environment:
            self.fields["service.environment"] = environment

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.update(self.fields)
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
    service = _ServiceFields(
        service_name, service_version, os.environ.get("ELASTIC_APM_ENVIRONMENT")
    )
    handler.addFilter(service)
    threshold = LEVELS.get(level, logging.INFO)
    REQUEST_LOG.configure(
        enabled=threshold <= logging.INFO,
        ecs=log_type != "dev",
        service=service.fields,
        stream=sys.stderr,
    )
    for name in ("package_registry", ACCESS_LOGGER):
        ours = logging.getLogger(name)
        ours.handlers[:] = [handler]
        ours.setLevel(threshold)
        ours.propagate = False
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        other = logging.getLogger(name)
        other.handlers[:] = [handler]
        other.setLevel(logging.WARNING)
        other.propagate = False

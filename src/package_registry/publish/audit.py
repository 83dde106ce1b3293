"""One audit line per publish or delete request, and its count in the metrics.

Lines go to the ``package_registry.audit`` logger (ECS fields: ``event.action``,
``event.outcome``, ``user.name`` — a token's label or the first 8 hex digits of its
digest, never the token —, ``package.name``, ``package.version``,
``http.response.status_code`` and ``client.address``).
"""

from __future__ import annotations

import logging

from package_registry.observability.metrics import Metrics

log = logging.getLogger("package_registry.audit")

#: ``event.action`` per action.
ACTIONS = {"publish": "package-publish", "delete": "package-delete"}


def audit(
    metrics: Metrics | None,
    action: str,
    status: int,
    *,
    who: str | None,
    client: str | None,
    name: str = "",
    version: str = "",
    reason: str = "",
) -> None:
    success = 200 <= status < 300
    fields: dict[str, object] = {
        "event.action": ACTIONS[action],
        "event.outcome": "success" if success else "failure",
        "user.name": who or "-",
        "http.response.status_code": status,
    }
    if client:
        fields["client.address"] = client
    if name:
        fields["package.name"] = name
    if version:
        fields["package.version"] = version
    if reason:
        fields["error.message"] = reason
    what = f"{name} {version}".strip() or "a package"
    log.info("%s %s: %d", action, what, status, extra=fields)
    if metrics is not None:
        metrics.count_publish(action, status)

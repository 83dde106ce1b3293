"""``package-registry -health-check``: ask a running registry's ``/health`` and answer 0 or 1.

Container health checks run a command inside the container; this one needs neither curl nor
anything beyond the standard library, and it reads the same ``-address``, ``-tls-cert`` and
``-tls-key`` (flags, ``EPR_*`` variables) as the server it probes, so changing the address of
an image's server also moves its health check.
"""

from __future__ import annotations

import http.client
import ssl
import sys
from urllib.parse import urlsplit

#: A health check must answer before the container runtime's own timeout (Docker: 30 s).
TIMEOUT_SECONDS = 2.0

# A server listening on every interface is reached over the loopback interface.
_EVERY_INTERFACE = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def loopback_target(address: str) -> tuple[str, int]:
    """The host and port to reach a server listening on ``address`` (``host:port``)."""
    parts = urlsplit("//" + address)
    port = parts.port  # raises ValueError for a port that is not a number
    if port is None:
        raise ValueError(f"address {address}: missing port in address")
    host = parts.hostname or ""
    return _EVERY_INTERFACE.get(host, host), port


def probe(address: str, tls: bool, timeout: float = TIMEOUT_SECONDS) -> int:
    """``GET /health``: 0 when it answers 200, else 1 with the reason on stderr."""
    try:
        host, port = loopback_target(address)
    except ValueError as err:
        print(f"health check: {err}", file=sys.stderr)
        return 1
    if tls:
        # The certificate names the public host, not the loopback address probed here; what
        # is checked is that this registry answers, not who it is.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/health")
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as err:
        print(f"health check: {host}:{port}: {err}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"health check: /health answered {status}", file=sys.stderr)
        return 1
    return 0

"""How long calls to other servers may take: one rule for every outgoing call.

The registry calls out to the storage endpoint (relayed files), the storage bucket
(index reads) and the proxy upstream. A stalled or unreachable peer must never hold a
request, a worker or the storage poller for ever, so each call is bounded three ways:
connecting, waiting for the next bytes, and (for API calls, not downloads) the whole
call with its retries. Downloads are bounded by the read wait instead of a total, so a
large file on a slow but live link still completes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True)
class OutgoingTimeouts:
    """Seconds; the defaults are those of the ``-outgoing-*-timeout`` flags."""

    #: Establishing a connection (TCP and TLS).
    connect: float = 5.0
    #: Waiting for the next bytes of an answer, headers included.
    read: float = 30.0
    #: A whole API call (bucket read, proxy request) with its retries.
    total: float = 60.0

    def httpx(self) -> httpx.Timeout:
        """The per-operation limits as httpx takes them (the total is enforced apart)."""
        import httpx

        return httpx.Timeout(connect=self.connect, read=self.read, write=self.read, pool=self.read)

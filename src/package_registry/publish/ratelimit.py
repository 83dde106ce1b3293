"""``-publish-rate-limit``: requests per token and minute, in each worker process.

A token bucket per token digest: ``limit`` requests at once, refilled at ``limit`` per
minute. Buckets exist only for tokens that authenticated, so their number is bounded by
the tokens file. Each worker keeps its own buckets (no shared state between processes):
with N workers a token may get up to N times the limit when its requests are spread
over all of them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimit:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        #: 0: no limit.
        self.per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        #: digest → (tokens left, when last refilled)
        self._buckets: dict[bytes, tuple[float, float]] = {}

    def take(self, key: bytes) -> float:
        """Spend one request of ``key``; returns 0 when allowed, else the seconds until
        one is (the ``Retry-After``)."""
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60.0
        now = self._clock()
        with self._lock:
            left, then = self._buckets.get(key, (float(self.per_minute), now))
            left = min(float(self.per_minute), left + (now - then) * rate)
            if left >= 1.0:
                self._buckets[key] = (left - 1.0, now)
                return 0.0
            self._buckets[key] = (left, now)
            return (1.0 - left) / rate


def retry_after(seconds: float) -> int:
    """Whole seconds to wait, at least 1."""
    return max(1, math.ceil(seconds))

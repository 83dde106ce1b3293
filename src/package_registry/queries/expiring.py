"""Answers kept for a limited time: for proxy mode, whose upstream changes on its own.

The per-catalog ``AnswerCache`` keeps an answer as long as its catalog lives, which is
right for answers computed from local packages only. Answers that merged in an upstream
registry are kept here instead, for at most the route's ``cache_time`` — the time clients
are told they may cache them anyway. A time to live of zero keeps nothing.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from package_registry.queries.cache import Answer

__all__ = ["ExpiringAnswers"]


class ExpiringAnswers:
    """A bounded LRU of answers that expire ``ttl`` seconds after they were stored."""

    def __init__(
        self, ttl: float, capacity: int = 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.ttl = ttl
        self.capacity = capacity
        self._clock = clock
        self._items: OrderedDict[Hashable, tuple[float, Answer]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> Answer | None:
        """The answer stored for ``key`` if it has not expired yet."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            expires, answer = found
            if self._clock() >= expires:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return answer

    def put(self, key: Hashable, body: bytes) -> Answer:
        """Wrap ``body`` in an ``Answer`` and keep it for ``ttl`` seconds (if positive)."""
        answer = Answer(body)
        if self.ttl <= 0:
            return answer
        with self._lock:
            self._items[key] = (self._clock() + self.ttl, answer)
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return answer

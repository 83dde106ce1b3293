"""Answers kept for a limited time: for proxy mode, whose upstream changes on its own.

The per-catalog ``AnswerCache`` keeps an answer as long as its catalog lives, which is
right for answers computed from local packages only. Answers that merged in an upstream
registry are kept here instead, for at most the route's ``cache_time`` — the time clients
are told they may cache them anyway. A time to live of zero keeps nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from functools import partial

from package_registry.queries.cache import Answer
from package_registry.queries.lru import ENTRY_OVERHEAD, ByteLRU, approx_size

__all__ = ["DEFAULT_MAX_BYTES", "ExpiringAnswers"]

#: Bytes of merged answers (bodies, gzip copies, keys) kept per route and worker.
DEFAULT_MAX_BYTES = 2 * 1024 * 1024


class ExpiringAnswers:
    """Answers that expire ``ttl`` seconds after they were stored, at most ``max_bytes``."""

    def __init__(
        self,
        ttl: float,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._items: ByteLRU[Hashable, tuple[float, Answer]] = ByteLRU(max_bytes, on_drop=_forget)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def total(self) -> int:
        """Bytes currently charged."""
        return self._items.total

    def get(self, key: Hashable) -> Answer | None:
        """The answer stored for ``key`` if it has not expired yet."""
        found = self._items.get(key)
        if found is None:
            return None
        expires, answer = found
        if self._clock() >= expires:
            self._items.pop(key)
            return None
        return answer

    def put(self, key: Hashable, body: bytes) -> Answer:
        """Wrap ``body`` in an ``Answer`` and keep it for ``ttl`` seconds (if positive and
        it fits the budget); the gzip copy, once made, is charged too."""
        answer = Answer(body)
        if self.ttl <= 0:
            return answer
        cost = len(body) + approx_size(key) + ENTRY_OVERHEAD
        if self._items.put(key, (self._clock() + self.ttl, answer), cost):
            answer.grown = partial(_charge_gzip, self._items, key, answer)
        return answer


def _charge_gzip(
    items: ByteLRU[Hashable, tuple[float, Answer]], key: Hashable, answer: Answer
) -> None:
    packed = answer.size - len(answer.body)
    found = items.get(key)
    if found is not None and found[1] is answer:
        items.grow(key, packed)


def _forget(_key: Hashable, value: tuple[float, Answer]) -> None:
    value[1].grown = None

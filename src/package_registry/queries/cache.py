"""Answers computed once per catalog snapshot and normalised query.

An ``AnswerCache`` belongs to exactly one catalog: when the catalog is replaced, its
cache goes with it, so nothing is ever invalidated piecemeal. It is a bounded LRU, and
each answer carries a strong ETag and a gzip copy made at most once.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["DEFAULT_CAPACITY", "Answer", "AnswerCache"]

DEFAULT_CAPACITY = 4096


class Answer:
    """A response body with its ETag and a lazily compressed copy."""

    __slots__ = ("_gzip", "_lock", "body", "etag")

    def __init__(self, body: bytes) -> None:
        self.body = body
        #: Strong validator: a short digest of the body bytes (SHA-1 runs on CPU
        #: instructions here, twice as fast as BLAKE2; an ETag needs no secrecy).
        self.etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:24] + '"'
        self._gzip: bytes | None = None
        self._lock = threading.Lock()

    def gzip(self) -> bytes:
        """The body gzip-compressed; computed on first call, then reused."""
        data = self._gzip
        if data is None:
            with self._lock:
                data = self._gzip
                if data is None:
                    data = gzip.compress(self.body, compresslevel=6, mtime=0)
                    self._gzip = data
        return data

    def __repr__(self) -> str:
        return f"<Answer {len(self.body)} bytes etag={self.etag}>"


class AnswerCache:
    """A bounded LRU of answers for one catalog snapshot."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._items: OrderedDict[Hashable, Answer] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> Answer | None:
        with self._lock:
            answer = self._items.get(key)
            if answer is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return answer

    def get_or_compute(self, key: Hashable, compute: Callable[[], bytes]) -> Answer:
        """The cached answer for ``key``, computing and storing it on a miss.

        Exceptions from ``compute`` propagate and nothing is stored.
        """
        answer = self.get(key)
        if answer is not None:
            return answer
        answer = Answer(compute())
        with self._lock:
            self.misses += 1
            existing = self._items.get(key)
            if existing is not None:  # another thread got there first: share its answer
                self._items.move_to_end(key)
                return existing
            self._items[key] = answer
            if len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return answer

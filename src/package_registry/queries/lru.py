"""A least-recently-used map bounded by bytes, for everything kept per request input.

Anything keyed by what a client sends (query strings, request targets) must be bounded
by what it costs in memory, not by a number of entries: one entry can be a few bytes or
a few megabytes, and a client chooses how many distinct keys it sends. ``ByteLRU`` keeps
each entry with its cost, drops the least recently used ones while the total is above
the budget, and refuses an entry that alone would exceed it (the caller then uses the
value without keeping it). ``approx_size`` estimates what a key costs.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["ENTRY_OVERHEAD", "ByteLRU", "approx_size"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: What one entry costs besides its key and value: the map's slot, the entry tuple,
#: the cost integer (measured on CPython 3.11/3.12, rounded up).
ENTRY_OVERHEAD = 200


def approx_size(value: object, depth: int = 6) -> int:
    """Bytes held by ``value`` and what it refers to, counting shared objects again.

    Containers, strings, bytes, numbers and objects with ``__slots__`` or a ``__dict__``
    are followed ``depth`` levels deep; an over-estimate is the safe side of a budget.
    """
    size = sys.getsizeof(value)
    if depth <= 0 or isinstance(value, str | bytes | bytearray | int | float | bool | None):
        return size
    depth -= 1
    if isinstance(value, tuple | list | set | frozenset):
        return size + sum(approx_size(item, depth) for item in value)
    if isinstance(value, dict):
        return size + sum(approx_size(k, depth) + approx_size(v, depth) for k, v in value.items())
    slots = getattr(type(value), "__slots__", ())
    if isinstance(slots, str):
        slots = (slots,)
    for name in slots:
        size += approx_size(getattr(value, name, None), depth)
    attributes = getattr(value, "__dict__", None)
    if attributes is not None:
        size += approx_size(attributes, depth)
    return size


class ByteLRU(Generic[K, V]):
    """A map of at most ``max_bytes`` (the sum of its entries' costs), oldest use first out.

    ``on_drop`` is called with each entry that leaves (evicted, replaced or cleared), under
    the map's lock, so a value owning a resource (a descriptor) can release it.
    """

    def __init__(self, max_bytes: int, on_drop: Callable[[K, V], None] | None = None) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.max_bytes = max_bytes
        self.total = 0
        self._on_drop = on_drop
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def keys(self) -> list[K]:
        """Keys from the least to the most recently used."""
        with self._lock:
            return list(self._items)

    def get(self, key: K) -> V | None:
        """The value for ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V, cost: int) -> bool:
        """Keep ``value`` under ``key`` at ``cost`` bytes; ``False`` when it alone is over
        the budget (then nothing is kept, and an older value for ``key`` is dropped)."""
        with self._lock:
            self._pop(key)
            if cost > self.max_bytes:
                return False
            self._items[key] = (value, cost)
            self.total += cost
            self._evict()
            return True

    def grow(self, key: K, extra: int) -> None:
        """Charge ``extra`` more bytes to ``key``'s entry (if still held), evicting as needed."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return
            self._items[key] = (found[0], found[1] + extra)
            self.total += extra
            self._evict()

    def pop(self, key: K) -> None:
        with self._lock:
            self._pop(key)

    def clear(self) -> None:
        with self._lock:
            while self._items:
                self._drop(*self._items.popitem(last=False))

    def _pop(self, key: K) -> None:
        found = self._items.pop(key, None)
        if found is not None:
            self._drop(key, found)

    def _evict(self) -> None:
        while self.total > self.max_bytes and self._items:
            self._drop(*self._items.popitem(last=False))

    def _drop(self, key: K, found: tuple[V, int]) -> None:
        self.total -= found[1]
        if self._on_drop is not None:
            self._on_drop(key, found[0])

"""Small files kept in memory, per worker, so a repeated download is not a read per request.

Package files (icons, screenshots, docs) and downloads are asked for again and again and
most are small; sending them from bytes avoids an ``open``/``read``/``close`` per request
and lets the server write the body in one piece. Each entry is keyed by the file's
identity *and* its size and mtime as just observed, so a file changed on disk is read
again; the whole cache is dropped when the catalog generation changes, so a reload never
serves the old catalog's bytes. Entries above ``max_entry`` are never kept, and the total
stays under ``max_total`` (least recently used entries go first).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

#: Largest file kept in memory.
MAX_ENTRY = 1024 * 1024
#: Bytes kept per worker at most (the application passes its share of ``-cache-max-bytes``).
MAX_TOTAL = 16 * 1024 * 1024
#: What an entry costs besides the file's bytes: its key, tuple and map slot.
ENTRY_OVERHEAD = 400


class FileCache:
    """An LRU of file bodies by identity, checked against size and mtime, bounded in bytes."""

    def __init__(self, max_entry: int = MAX_ENTRY, max_total: int = MAX_TOTAL) -> None:
        self.max_entry = max_entry
        self.max_total = max_total
        #: identity -> (size, mtime, bytes)
        self._entries: OrderedDict[Hashable, tuple[int, float, bytes]] = OrderedDict()
        self._total = 0
        self._generation: int | None = None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total(self) -> int:
        """Bytes currently held."""
        return self._total

    def fits(self, size: int) -> bool:
        """Whether a file of ``size`` bytes would be kept."""
        return size <= self.max_entry and size + ENTRY_OVERHEAD <= self.max_total

    def get(
        self, generation: int, key: Hashable, size: int, mtime: float, read: Callable[[], bytes]
    ) -> bytes | None:
        """The bytes of the file ``key`` (``size`` bytes, modified at ``mtime``).

        ``read`` is called when they are not held yet. Returns ``None`` when the file is
        too large to keep, or when what ``read`` returned is not ``size`` bytes long (the
        file changed between its stat and its read): the caller then serves it from disk.
        """
        if generation != self._generation:
            self.clear()
            self._generation = generation
        if not self.fits(size):
            return None
        entries = self._entries
        held = entries.get(key)
        if held is not None:
            if held[0] == size and held[1] == mtime:
                entries.move_to_end(key)
                return held[2]
            del entries[key]  # changed on disk since it was read
            self._total -= len(held[2]) + ENTRY_OVERHEAD
        data = read()
        if len(data) != size:
            return None
        entries[key] = (size, mtime, data)
        self._total += size + ENTRY_OVERHEAD
        while self._total > self.max_total:
            _, dropped = entries.popitem(last=False)
            self._total -= len(dropped[2]) + ENTRY_OVERHEAD
        return data

    def clear(self) -> None:
        self._entries.clear()
        self._total = 0

"""Answers computed once per catalog snapshot and normalised query, bounded by bytes.

An ``AnswerCache`` belongs to exactly one catalog: when the catalog is replaced, its
cache goes with it, so nothing is ever invalidated piecemeal. Each answer carries a
strong ETag and a gzip copy made at most once.

Queries that differ only in a value the catalog does not tell apart (thousands of
``kibana.version`` values selecting the same packages) must not cost one body each: the
cache maps each query key to an *answer identity* — the identities of the parts an
answer is made of, or the digest of its bytes — and keeps one ``Answer`` per identity.
The budget counts every distinct body and gzip copy once, plus each key; the least
recently used keys go first, and an answer goes with its last key. An answer larger
than the whole budget is returned without being kept.

A group of keys (those whose first element is a route name, such as ``("search", …)``)
can also be bounded by count and age (``EntryLimit``: the reference's
``search.cache_size``/``search.cache_ttl`` and ``categories.*`` with
``-feature-enable-search-cache`` / ``-feature-enable-categories-cache``): past the
count the group's least recently used key goes, and a key older than the time to live
is computed again on its next use. These bounds come on top of the byte budget.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from package_registry.queries.lru import ENTRY_OVERHEAD, approx_size

__all__ = ["DEFAULT_MAX_BYTES", "Answer", "AnswerCache", "EntryLimit"]

#: Bytes of answers (bodies, gzip copies and keys) kept per catalog and worker.
DEFAULT_MAX_BYTES = 24 * 1024 * 1024

P = TypeVar("P")


class Answer:
    """A response body with its ETag and a lazily compressed copy."""

    __slots__ = ("_gzip", "_lock", "body", "etag", "grown")

    def __init__(self, body: bytes) -> None:
        self.body = body
        #: Strong validator: a short digest of the body bytes (SHA-1 runs on CPU
        #: instructions here, twice as fast as BLAKE2; an ETag needs no secrecy).
        self.etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest()[:24] + '"'
        self._gzip: bytes | None = None
        self._lock = threading.Lock()
        #: Called with the answer once its gzip copy exists, by whoever keeps the
        #: answer and counts its bytes.
        self.grown: Callable[[], None] | None = None

    @property
    def size(self) -> int:
        """Bytes of the body and, once made, of its gzip copy."""
        packed = self._gzip
        return len(self.body) + (len(packed) if packed is not None else 0)

    def gzip(self) -> bytes:
        """The body gzip-compressed; computed on first call, then reused."""
        data = self._gzip
        if data is None:
            with self._lock:
                data = self._gzip
                if data is None:
                    data = gzip.compress(self.body, compresslevel=6, mtime=0)
                    self._gzip = data
            grown = self.grown
            if grown is not None:
                grown()
        return data

    def __repr__(self) -> str:
        return f"<Answer {len(self.body)} bytes etag={self.etag}>"


@dataclass(frozen=True, slots=True)
class EntryLimit:
    """At most ``size`` keys of a group (none when not positive), each kept at most
    ``ttl`` seconds from when its answer was stored (forever when not positive), as the
    reference's expirable LRU caches count them."""

    size: int
    ttl: float


class _Held:
    """An answer kept by the cache: how many keys lead to it, how many bytes it was charged."""

    __slots__ = ("answer", "charged", "identity", "keys")

    def __init__(self, answer: Answer, identity: Hashable) -> None:
        self.answer = answer
        self.identity = identity
        self.keys = 0
        self.charged = 0


class AnswerCache:
    """Answers of one catalog snapshot by query key, at most ``max_bytes`` in all."""

    def __init__(
        self, max_bytes: int = DEFAULT_MAX_BYTES, limits: Mapping[str, EntryLimit] | None = None
    ) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.max_bytes = max_bytes
        self.limits = dict(limits or {})
        #: Per limited group: its keys, least recently used first, with their deadlines.
        self._groups: dict[str, OrderedDict[Hashable, float]] = {
            g: OrderedDict() for g in self.limits
        }
        #: Keys of limited groups dropped for their count or their age.
        self.evictions = 0
        #: Bytes currently charged: distinct answers (body + gzip) and keys.
        self.total = 0
        self._keys: OrderedDict[Hashable, tuple[_Held, int]] = OrderedDict()
        self._answers: dict[Hashable, _Held] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        """Keys held."""
        return len(self._keys)

    @property
    def answers(self) -> int:
        """Distinct answers held."""
        return len(self._answers)

    def group_size(self, group: str) -> int:
        """Keys held in a limited ``group``."""
        return len(self._groups.get(group, ()))

    def _group(self, key: Hashable) -> OrderedDict[Hashable, float] | None:
        """The limited group ``key`` belongs to, if any."""
        if self._groups and isinstance(key, tuple) and key and isinstance(key[0], str):
            return self._groups.get(key[0])
        return None

    def get(self, key: Hashable) -> Answer | None:
        with self._lock:
            found = self._keys.get(key)
            if found is None:
                return None
            group = self._group(key)
            if group is not None:
                if time.monotonic() >= group[key]:
                    self.evictions += 1
                    self._drop(key)
                    return None
                group.move_to_end(key)
            self._keys.move_to_end(key)
            self.hits += 1
            return found[0].answer

    def get_or_compute(self, key: Hashable, compute: Callable[[], bytes]) -> Answer:
        """The cached answer for ``key``, computing and storing it on a miss.

        Keys whose bytes come out equal share one answer. Exceptions from ``compute``
        propagate and nothing is stored.
        """
        answer = self.get(key)
        if answer is not None:
            return answer
        answer = Answer(compute())
        return self._keep(key, ("etag", answer.etag), answer)

    def get_or_select(
        self,
        key: Hashable,
        select: Callable[[], Sequence[P]],
        render: Callable[[Sequence[P]], bytes],
        *,
        salt: Hashable,
    ) -> Answer:
        """The cached answer for ``key``; on a miss, ``select`` its parts and ``render``
        them only if no other key with the same ``salt`` selected the very same parts.

        The parts must live at least as long as the cache (they belong to its catalog):
        their identities and ``salt`` (what else ``render`` depends on) name the answer.
        Exceptions from ``select`` propagate.
        """
        answer = self.get(key)
        if answer is not None:
            return answer
        parts = select()
        digest = hashlib.sha1(
            array("Q", [id(part) for part in parts]).tobytes(), usedforsecurity=False
        ).digest()
        identity = (salt, digest)
        with self._lock:
            held = self._answers.get(identity)
        answer = held.answer if held is not None else Answer(render(parts))
        return self._keep(key, identity, answer)

    def _keep(self, key: Hashable, identity: Hashable, answer: Answer) -> Answer:
        """Store ``answer`` (or the one already held for ``identity``) under ``key``."""
        key_cost = approx_size(key) + ENTRY_OVERHEAD
        with self._lock:
            self.misses += 1
            found = self._keys.get(key)
            if found is not None:  # another thread got there first: share its answer
                self._keys.move_to_end(key)
                return found[0].answer
            held = self._answers.get(identity)
            if held is None:
                if answer.size + key_cost > self.max_bytes:
                    return answer  # served, never kept
                held = _Held(answer, identity)
                held.charged = answer.size
                self._answers[identity] = held
                self.total += held.charged
                answer.grown = partial(self._grown, held)
            held.keys += 1
            self._keys[key] = (held, key_cost)
            self.total += key_cost
            group = self._group(key)
            if group is not None:
                limit = self.limits[key[0]]  # type: ignore[index]
                group[key] = time.monotonic() + limit.ttl if limit.ttl > 0 else math.inf
                while 0 < limit.size < len(group):
                    self.evictions += 1
                    self._drop(next(iter(group)))
            self._evict()
            return held.answer

    def _grown(self, held: _Held) -> None:
        """Charge an answer's new gzip copy, if the answer is still kept."""
        with self._lock:
            if self._answers.get(held.identity) is not held:
                return
            extra = held.answer.size - held.charged
            held.charged += extra
            self.total += extra
            self._evict()

    def _evict(self) -> None:
        while self.total > self.max_bytes and self._keys:
            self._drop(next(iter(self._keys)))

    def _drop(self, key: Hashable) -> None:
        """Forget ``key`` (held), and its answer with its last key (lock held)."""
        held, key_cost = self._keys.pop(key)
        group = self._group(key)
        if group is not None:
            del group[key]
        self.total -= key_cost
        held.keys -= 1
        if held.keys == 0:
            del self._answers[held.identity]
            self.total -= held.charged
            held.answer.grown = None

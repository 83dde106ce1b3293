"""A storage bucket's index kept in SQLite (``-feature-sql-storage-indexer``).

The reference's SQL storage indexer keeps the bucket's packages in a database instead of
memory. Here the database is a persistent catalog file (``packages/store.py``) named for
the bucket, in ``sql_indexer.database_folder_path``: each index entry is one row, keyed
by the SHA-256 of the entry's JSON, and in memory each package keeps only its light
fields; its documents are read from the file when an answer is rendered.

Entries arrive one at a time (the index is decoded as a stream) and are written in
batches of ``EPR_SQL_INDEXER_DB_INSERT_BATCH_SIZE``, so an index of tens of thousands of
packages never sits whole in memory. On each new cursor, an entry whose digest is
unchanged keeps its row and its package object; a new or changed entry gets a new row;
the rows of entries gone from the index are retired and deleted after the same grace
as the local packages' rows (a retiring worker may still be rendering from them).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from package_registry.packages.model import Package
from package_registry.packages.store import (
    FormDocuments,
    PackageStore,
    StoredForm,
    revive,
    stored_form,
)

__all__ = ["StoredIndex", "entry_digest"]

log = logging.getLogger("package_registry.storage")


def entry_digest(entry: Any) -> bytes:
    """What identifies an index entry's content: the SHA-256 of its JSON."""
    return hashlib.sha256(orjson.dumps(entry)).digest()


class StoredIndex:
    """The rows of one bucket's index in ``store``; see the module docstring."""

    def __init__(self, store: PackageStore, insert_batch: int, grace: float) -> None:
        self.store = store
        self._batch = max(1, insert_batch)
        self._grace = grace
        #: Digest → (row, package) of the published index's entries.
        self._live: dict[bytes, tuple[int, Package]] = {}
        self._first = True
        #: Entries of the last load taken as they were, and stored afresh.
        self.kept = 0
        self.stored = 0

    def load(self, entries: Iterable[Any], decode: Callable[[Any], Package]) -> list[Package]:
        """The packages of ``entries`` in order, new ones stored as they come.

        Exceptions from reading or ``decode`` propagate; the rows this load wrote are
        then retired, and the rows of the published index stay as they were.
        """
        held = self._held()
        out: list[Package | None] = []
        following: dict[bytes, tuple[int, Package]] = {}
        #: Entries decoded and not written yet: digest → (location, form, positions).
        pending: dict[bytes, tuple[str, StoredForm, list[int]]] = {}
        written: list[int] = []
        self.kept = self.stored = 0
        try:
            for entry in entries:
                digest = entry_digest(entry)
                found = following.get(digest) or held.get(digest)
                if found is not None:
                    following[digest] = found
                    out.append(found[1])
                    self.kept += 1
                    continue
                waiting = pending.get(digest)
                if waiting is not None:  # the same entry twice in one index
                    waiting[2].append(len(out))
                    out.append(None)
                    continue
                package = decode(entry)
                try:
                    form = stored_form(package)
                except ValueError:  # documents Go could not encode: kept as decoded
                    out.append(package)
                    continue
                pending[digest] = (f"{package.name}-{package.version}", form, [len(out)])
                out.append(None)
                if len(pending) >= self._batch:
                    self._write(pending, out, following, written)
            self._write(pending, out, following, written)
        except BaseException:
            self.store.retire(written)
            raise
        self._finish(following)
        return [package for package in out if package is not None]

    def _held(self) -> dict[bytes, tuple[int, Package]]:
        """The rows an unchanged entry may keep: the file's at the first load (revived
        from their light fields), the published index's afterwards."""
        if not self._first:
            return self._live
        store = self.store
        return {
            digest: (row, store.revive(row, light, None))
            for digest, (row, light) in store.by_fingerprint().items()
        }

    def _write(
        self,
        pending: dict[bytes, tuple[str, StoredForm, list[int]]],
        out: list[Package | None],
        following: dict[bytes, tuple[int, Package]],
        written: list[int],
    ) -> None:
        """Store the pending entries in one transaction and put their packages in place."""
        if not pending:
            return
        items = [(location, digest, form) for digest, (location, form, _) in pending.items()]
        added = None if self.store.failed else self.store.add(items, lambda _: None)
        log.debug("Filled database with a batch of packages", extra={"num.packages": len(items)})
        for index, (digest, (_, form, positions)) in enumerate(pending.items()):
            if added is None:  # the file cannot be written: keep the compressed form
                package = revive(form.light, FormDocuments(form), None, self.store.interned)
            else:
                row, package = added[index]
                following[digest] = (row, package)
                written.append(row)
            for position in positions:
                out[position] = package
            self.stored += 1
        pending.clear()

    def _finish(self, following: dict[bytes, tuple[int, Package]]) -> None:
        """Make this load's rows the published ones; retire (or, at the first load,
        delete) the others."""
        rows = {row for row, _ in following.values()}
        if self._first:
            self.store.keep_only(rows)
        else:
            self.store.retire(row for row, _ in self._live.values() if row not in rows)
            self.store.sweep(self._grace)
        self._live = following
        self._first = False
        log.info(
            "storage index database: %d packages taken as they were, %d stored",
            self.kept,
            self.stored,
            extra={"file.path": self.store.path},
        )

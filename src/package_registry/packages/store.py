"""The persistent catalog: loaded packages kept in a SQLite file between runs.

Each loaded package is one row: where it was loaded from, the fingerprint of its files
when it was loaded, the few typed fields queries filter on (``light``), and its
pre-rendered, compressed documents. At start-up and on every reload, a package whose
fingerprint is unchanged is rebuilt from its ``light`` record without reading its
manifest; packages the loader refused are remembered the same way with their reason.

Processes share the file, not Python objects: the parent writes, forked workers read
with their own read-only connections (WAL mode, so reads never wait for a write) and
hold only the light fields; a document is read when an answer is rendered. Rows are
never changed in place: a changed package gets a new row, and the old one is deleted
only once no worker can still be serving the catalog that referenced it (``retire``,
``sweep``), so a request never sees half of an update.

A file written by another version of the program, with other loading options, or that
SQLite cannot read, is deleted and rebuilt with one log line. A location that cannot be
written (read-only, full, locked by another registry) makes ``open_store`` return
``None``: the caller keeps the documents in memory, as without a persistent catalog.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import marshal
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from package_registry import __version__
from package_registry.packages.documents import (
    Documents,
    category_closure,
)
from package_registry.packages.files import PackageFiles
from package_registry.packages.model import Package, PolicyTemplateRef
from package_registry.packages.render import render_json
from package_registry.packages.versions import Constraint, Version

__all__ = [
    "MEMORY",
    "FormDocuments",
    "Interned",
    "PackageStore",
    "StoredDocuments",
    "StoredForm",
    "bucket_store_file",
    "open_store",
    "revive",
    "stored_form",
]

log = logging.getLogger("package_registry.catalog")

#: The ``-catalog-path`` value that keeps the catalog in memory only (SQLite's own name).
MEMORY = ":memory:"
#: Bumped whenever the tables or the encoding of a column change.
SCHEMA = 3
#: zlib level for package documents: level 1 shrinks package JSON about 4 times, at little
#: cost. /search items are kept as they are: an ``all=true`` answer joins thousands of
#: them, and decompressing was most of its time.
_LEVEL = 1
#: The table each document column is in.
_TABLE_OF = {"fragment": "fragments", "full": "documents", "pruned": "documents"}
#: Rows read per query by ``read_many`` (below SQLite's oldest limit on parameters).
_BATCH = 500

#: What start-up reads (``packages``), what /search answers read (``fragments``) and what
#: package documents read (``documents``) are kept apart, so that each scan reads narrow
#: rows only.
_TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE packages (
    id INTEGER PRIMARY KEY,
    location TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    light BLOB NOT NULL
);
CREATE TABLE fragments (id INTEGER PRIMARY KEY, fragment BLOB NOT NULL);
CREATE TABLE documents (id INTEGER PRIMARY KEY, full BLOB NOT NULL, pruned BLOB);
CREATE TABLE rejects (location TEXT PRIMARY KEY, fingerprint BLOB NOT NULL, reason TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class StoredForm:
    """A loaded package as it is written: made where the package was loaded (a loader
    process), so rendering and compressing run in parallel and only bytes travel."""

    light: bytes
    fragment: bytes
    full: bytes
    pruned: bytes | None


def _light(package: Package) -> bytes:
    files = package.files
    return marshal.dumps(
        (
            package.name,
            package.version,
            package.type,
            package.release,
            package.categories,
            tuple((ref.name, ref.categories) for ref in package.policy_templates),
            None if package.kibana is None else package.kibana.original,
            None if package.agent is None else package.agent.original,
            package.capabilities,
            None if package.spec is None else package.spec.original,
            package.discovery_fields,
            package.discovery_datasets,
            package.internal,
            None if package.deprecated is None else render_json(package.deprecated),
            None if files is None else files.signature,
        )
    )


def stored_form(package: Package) -> StoredForm:
    """Render and compress ``package`` for ``PackageStore.add`` (raises ``ValueError``
    for documents Go could not encode either)."""
    documents = package.documents
    closure = category_closure(package.categories)
    template_only = category_closure(
        c for ref in package.policy_templates for c in (ref.categories or ())
    )
    pruned = {category: documents.pruned(category) for category in sorted(template_only - closure)}
    return StoredForm(
        light=_light(package),
        fragment=documents.fragment(),
        full=zlib.compress(documents.full_json(), _LEVEL),
        pruned=zlib.compress(marshal.dumps(pruned), _LEVEL) if pruned else None,
    )


def _exact_json(data: bytes) -> Any:
    """Decode rendered JSON so that rendering it again gives the same bytes: floats stay
    the text they were written as (``orjson.Fragment``), as loading makes them."""
    return json.loads(data, parse_float=orjson.Fragment)


class _StoredShape:
    """Documents in their stored shape: the package document compressed, the /search item
    as served, pruned items in a compressed map; subclasses say where the bytes are."""

    __slots__ = ()

    def _bytes(self, column: str) -> bytes:
        raise NotImplementedError

    def full(self) -> dict[str, Any]:
        return _exact_json(self.full_json())

    def summary(self) -> dict[str, Any]:
        return _exact_json(self.fragment())

    def full_json(self) -> bytes:
        return zlib.decompress(self._bytes("full"))

    def fragment(self) -> bytes:
        return self._bytes("fragment")

    def pruned(self, category: str) -> bytes:
        return marshal.loads(zlib.decompress(self._bytes("pruned")))[category]


class StoredDocuments(_StoredShape):
    """A package's documents, read from its row when an answer needs them."""

    __slots__ = ("_row", "_store")

    def __init__(self, store: PackageStore, row: int) -> None:
        self._store = store
        self._row = row

    def _bytes(self, column: str) -> bytes:
        return self._store.read(column, self._row)

    @staticmethod
    def fragments_of(many: Sequence[StoredDocuments]) -> Iterator[bytes]:
        """``fragment()`` of each, read in batches (one query per few hundred rows)."""
        if not many:
            return
        store = many[0]._store
        if any(documents._store is not store for documents in many):
            yield from (documents.fragment() for documents in many)
            return
        yield from store.read_many("fragment", [documents._row for documents in many])


class FormDocuments(_StoredShape):
    """A package's documents kept in their stored shape in memory: what a package loaded
    while the catalog file cannot be written holds."""

    __slots__ = ("_form",)

    def __init__(self, form: StoredForm) -> None:
        self._form = form

    def _bytes(self, column: str) -> bytes:
        data = getattr(self._form, column)
        if data is None:
            raise LookupError(f"no {column} for this package")
        return data


class Interned:
    """Parsed constraints and versions shared by every row that has the same text."""

    def __init__(self) -> None:
        self.constraints: dict[str, Constraint] = {}
        self.tuples: dict[Any, Any] = {}

    def constraint(self, text: str | None) -> Constraint | None:
        if text is None:
            return None
        found = self.constraints.get(text)
        if found is None:
            found = self.constraints[text] = Constraint.parse(text)
        return found

    def value(self, value: Any) -> Any:
        return self.tuples.setdefault(value, value)


def revive(
    light: bytes, documents: Documents, files: PackageFiles | None, interned: Interned
) -> Package:
    """The ``Package`` of a ``light`` record with these documents and files."""
    (
        name,
        version,
        type_,
        release,
        categories,
        templates,
        kibana,
        agent,
        capabilities,
        spec,
        fields,
        datasets,
        internal,
        deprecated,
        signature,
    ) = marshal.loads(light)
    if files is not None:
        files.signature = signature
    return Package(
        name=name,
        version=version,
        semver=Version.parse_strict(version),
        type=type_,
        release=release,
        categories=interned.value(categories),
        policy_templates=interned.value(
            tuple(PolicyTemplateRef(t_name, t_cats) for t_name, t_cats in templates)
        ),
        kibana=interned.constraint(kibana),
        agent=interned.constraint(agent),
        capabilities=interned.value(capabilities),
        spec=None if spec is None else Version.parse_strict(spec),
        discovery_fields=interned.value(fields),
        discovery_datasets=interned.value(datasets),
        internal=internal,
        deprecated=None if deprecated is None else _exact_json(deprecated),
        documents=documents,
        files=files,
    )


class PackageStore:
    """One catalog file; see the module docstring. Use ``open_store`` to get one."""

    def __init__(self, path: str, lock_fd: int) -> None:
        self.path = path
        self._lock_fd = lock_fd
        self._writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.execute("PRAGMA synchronous=NORMAL")
        self._write_lock = threading.Lock()
        self._readers = threading.local()
        self.interned = Interned()
        #: (when, row ids) replaced or removed by a reload, deleted by ``sweep``.
        self._retired: list[tuple[float, list[int]]] = []
        #: Whether writing failed since start (disk full): then new packages stay in memory.
        self.failed = False

    # --- reading (any process) ---------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        """This thread's read-only connection, opened again after a fork."""
        local = self._readers
        if getattr(local, "pid", None) != os.getpid():
            local.connection = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
            )
            local.pid = os.getpid()
        return local.connection

    def read(self, column: str, row: int) -> bytes:
        """One column of one row (``column`` is one of the document columns)."""
        table = _TABLE_OF[column]
        found = (
            self._reader().execute(f"SELECT {column} FROM {table} WHERE id = ?", (row,)).fetchone()
        )
        if found is None or found[0] is None:
            raise LookupError(f"catalog row {row} has no {column}: {self.path}")
        return found[0]

    def read_many(self, column: str, rows: Sequence[int]) -> Iterator[bytes]:
        """``read(column, row)`` for each of ``rows``, in order."""
        reader = self._reader()
        table = _TABLE_OF[column]
        for start in range(0, len(rows), _BATCH):
            chunk = rows[start : start + _BATCH]
            marks = ",".join("?" * len(chunk))
            found = dict(
                reader.execute(f"SELECT id, {column} FROM {table} WHERE id IN ({marks})", chunk)
            )
            for row in chunk:
                data = found.get(row)
                if data is None:
                    raise LookupError(f"catalog row {row} has no {column}: {self.path}")
                yield data

    # --- the catalog's contents (the loading process) ----------------------------------

    def known(self) -> dict[str, tuple[bytes, int, bytes]]:
        """Location → (fingerprint, row id, light record) of every stored package."""
        rows = self._writer.execute("SELECT location, fingerprint, id, light FROM packages")
        return {location: (fingerprint, row, light) for location, fingerprint, row, light in rows}

    def by_fingerprint(self) -> dict[bytes, tuple[int, bytes]]:
        """Fingerprint → (row id, light record) of every stored package (for rows whose
        fingerprint is their content's digest, where one location may hold several)."""
        rows = self._writer.execute("SELECT fingerprint, id, light FROM packages")
        return {fingerprint: (row, light) for fingerprint, row, light in rows}

    def known_rejects(self) -> dict[str, tuple[bytes, str]]:
        """Location → (fingerprint, reason) of every package the loader refused."""
        rows = self._writer.execute("SELECT location, fingerprint, reason FROM rejects")
        return {location: (fingerprint, reason) for location, fingerprint, reason in rows}

    def revive(self, row: int, light: bytes, files: PackageFiles | None) -> Package:
        """The ``Package`` of a stored row, its documents left in the file."""
        return revive(light, StoredDocuments(self, row), files, self.interned)

    def add(
        self,
        items: Sequence[tuple[str, bytes, StoredForm]],
        files: Callable[[str], PackageFiles | None],
    ) -> list[tuple[int, Package]] | None:
        """Write new rows for (location, fingerprint, form) and return their ids and
        packages, or ``None`` when the file cannot be written (then ``failed`` is set)."""
        if not items:
            return []
        try:
            with self._write_lock, self._transaction():
                cursor = self._writer.cursor()
                rows = []
                for location, fingerprint, form in items:
                    cursor.execute(
                        "INSERT INTO packages (location, fingerprint, light) VALUES (?, ?, ?)",
                        (location, fingerprint, form.light),
                    )
                    row = cursor.lastrowid
                    cursor.execute("INSERT INTO fragments VALUES (?, ?)", (row, form.fragment))
                    cursor.execute(
                        "INSERT INTO documents VALUES (?, ?, ?)", (row, form.full, form.pruned)
                    )
                    rows.append(row)
        except sqlite3.Error as exc:
            self._write_failed(exc)
            return None
        return [
            (row, self.revive(row, form.light, files(location)))
            for row, (location, _, form) in zip(rows, items, strict=True)
        ]

    def set_rejects(self, rejects: Iterable[tuple[str, bytes, str]]) -> None:
        """Remember exactly these refused packages (location, fingerprint, reason)."""
        try:
            with self._write_lock, self._transaction():
                self._writer.execute("DELETE FROM rejects")
                self._writer.executemany("INSERT OR REPLACE INTO rejects VALUES (?, ?, ?)", rejects)
        except sqlite3.Error as exc:
            self._write_failed(exc)

    def get_meta(self, key: str) -> Any:
        """A value kept with the catalog (JSON), ``None`` when not set."""
        found = self._writer.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else orjson.loads(found[0])

    def set_meta(self, key: str, value: Any) -> None:
        try:
            with self._write_lock, self._transaction():
                self._writer.execute(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, orjson.dumps(value).decode())
                )
        except sqlite3.Error as exc:
            self._write_failed(exc)

    def retire(self, rows: Iterable[int]) -> None:
        """Rows no longer in the newest catalog: deleted by a ``sweep`` after the grace."""
        rows = list(rows)
        if rows:
            self._retired.append((time.monotonic(), rows))

    def sweep(self, grace: float) -> None:
        """Delete the rows retired at least ``grace`` seconds ago."""
        now = time.monotonic()
        due = [rows for when, rows in self._retired if now - when >= grace]
        if not due:
            return
        self._retired = [(when, rows) for when, rows in self._retired if now - when < grace]
        self._delete(row for rows in due for row in rows)

    def keep_only(self, rows: Iterable[int]) -> None:
        """Delete every row but ``rows`` (at start-up, when no worker reads yet)."""
        keep = set(rows)
        stale = [
            row for (row,) in self._writer.execute("SELECT id FROM packages") if row not in keep
        ]
        self._delete(stale)

    def _delete(self, rows: Iterable[int]) -> None:
        try:
            with self._write_lock, self._transaction():
                rows = [(row,) for row in rows]
                for table in ("packages", "fragments", "documents"):
                    self._writer.executemany(f"DELETE FROM {table} WHERE id = ?", rows)
        except sqlite3.Error as exc:
            self._write_failed(exc)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._writer)

    def _write_failed(self, exc: sqlite3.Error) -> None:
        if not self.failed:
            log.warning(
                "persistent catalog cannot be written, new packages are kept in memory",
                extra={"file.path": self.path, "error.message": str(exc)},
            )
        self.failed = True

    def close(self) -> None:
        self._writer.close()
        os.close(self._lock_fd)


class _Transaction:
    """``BEGIN``/``COMMIT`` around a block, ``ROLLBACK`` when it raises."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> None:
        self._connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, _value: object, _tb: object) -> None:
        if kind is None:
            self._connection.execute("COMMIT")
        else:
            self._connection.execute("ROLLBACK")


def store_file(directory: str, package_paths: Sequence[str]) -> str:
    """The catalog file for these package paths in ``directory``: one per set of paths, so
    registries serving different folders never share (or fight over) a file."""
    key = orjson.dumps([[os.path.abspath(p) for p in package_paths]])
    digest = hashlib.sha256(key).hexdigest()[:16]
    return os.path.join(directory, f"catalog-{digest}.sqlite")


def bucket_store_file(directory: str, bucket_url: str) -> str:
    """The file of a storage bucket's index in ``directory``: one per bucket URL, so
    registries following different buckets never share a file."""
    digest = hashlib.sha256(bucket_url.encode()).hexdigest()[:16]
    return os.path.join(directory, f"storage-index-{digest}.sqlite")


def _identity(options: Sequence[object]) -> str:
    """What a stored row depends on besides its files: the program and the load options."""
    return orjson.dumps([__version__, SCHEMA, [repr(o) for o in options]]).decode()


def open_store(
    directory: str,
    package_paths: Sequence[str],
    options: Sequence[object],
    *,
    path: str | None = None,
) -> PackageStore | None:
    """The catalog file for ``package_paths`` in ``directory`` (or the file at ``path``,
    such as ``bucket_store_file`` names), created when missing and rebuilt when written
    by another version or with other ``options`` or damaged; ``None`` (with a warning)
    when it cannot be used."""
    path = path or store_file(directory, package_paths)
    identity = _identity(options)
    try:
        os.makedirs(directory, exist_ok=True)
        lock_fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        _unusable(path, str(exc))
        return None
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock_fd)
        _unusable(path, "another registry is using it")
        return None
    try:
        reason = _stale_reason(path, identity)
        if reason is not None:
            if os.path.exists(path):
                log.warning(
                    "persistent catalog rebuilt", extra={"file.path": path, "event.reason": reason}
                )
            for suffix in ("", "-wal", "-shm"):
                _remove(path + suffix)
            _create(path, identity)
        return PackageStore(path, lock_fd)
    except (sqlite3.Error, OSError) as exc:
        os.close(lock_fd)
        _unusable(path, str(exc))
        return None


def _stale_reason(path: str, identity: str) -> str | None:
    """Why the file at ``path`` cannot be reused, or ``None`` when it can."""
    if not os.path.exists(path):
        return "no catalog yet"
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            # Reading the schema and a table is enough to refuse a file that is not a
            # SQLite database or whose first pages are damaged; a full integrity check
            # would read the whole file and make start-up grow with the catalog.
            found = dict(connection.execute("SELECT key, value FROM meta").fetchall())
            connection.execute("SELECT max(id) FROM packages").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        return f"unreadable: {exc}"
    if found.get("identity") != identity:
        return f"written by {found.get('identity', 'an unknown writer')}"
    return None


def _create(path: str, identity: str) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(_TABLES)
        connection.execute("INSERT INTO meta VALUES ('identity', ?)", (identity,))
    finally:
        connection.close()


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _unusable(path: str, reason: str) -> None:
    log.warning(
        "persistent catalog unavailable, keeping the catalog in memory",
        extra={"file.path": path, "error.message": reason},
    )

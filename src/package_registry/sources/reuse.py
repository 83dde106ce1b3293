"""Loading with the persistent catalog: unchanged packages are taken from it, not parsed.

A package's fingerprint is the size and modification time (to the nanosecond) of the
files and folders that decide what it loads as — not their device and inode numbers,
which change when the same files are copied into a container image or mounted
elsewhere, while tools that copy (``COPY``, ``cp -p``, ``rsync``) keep the times:

* a zip: the zip file and its ``.sig``;
* a folder: the folder itself, its ``manifest.yml``, its ``data_stream`` folder and its
  ``.sig``. Adding, removing or renaming anything directly in the package folder or in
  ``data_stream`` changes a folder's time, and so does saving a file the usual way
  (write a new file, rename it over the old one); a file rewritten in place below the
  package folder, other than ``manifest.yml``, is not noticed at start-up. The watcher
  (``-package-paths-enable-watcher``) reports every changed path, and those packages are
  always loaded again.

Equal fingerprint → the stored package; different or missing → the package is loaded
and stored; a refused package is remembered with its reason the same way. A reload the
watcher asked for with a short list of changed paths takes every other package of the
current catalog as it is, without a ``stat``: the watcher sees every change while the
registry runs. Packages
kept from the previous catalog of this process are reused as they are (no row read).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence

from package_registry.packages.files import PackageFiles
from package_registry.packages.model import Package
from package_registry.packages.store import (
    FormDocuments,
    PackageStore,
    StoredForm,
    revive,
)
from package_registry.sources.base import Reject

__all__ = ["Reuse", "fingerprint"]

log = logging.getLogger("package_registry.sources")

#: Up to this many paths reported by the watcher, a reload stats only the packages they
#: are in (and new ones); more, as after a burst in which the kernel may have dropped
#: events, and every package's fingerprint is checked again.
TRUSTED_CHANGES = 1000


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_size, st.st_mtime_ns)


def fingerprint(path: str) -> bytes | None:
    """The fingerprint of the zip or package folder at ``path``; ``None`` when it cannot
    be taken (the package is then always loaded, and the loader reports the problem)."""
    try:
        own = _stat(path)
        if own is None:
            return None
        parts: tuple[object, ...] = (own, _stat(path + ".sig"))
        if not path.endswith(".zip"):
            parts += (_stat(path + "/manifest.yml"), _stat(path + "/data_stream"))
    except OSError:
        return None
    return repr(parts).encode()


class Reuse:
    """What one process knows of its packages across loads: the store's rows, the packages
    of its current catalog, and the paths the watcher reported changed since."""

    def __init__(self, store: PackageStore) -> None:
        self.store = store
        #: location → (fingerprint, row, package) of the current catalog's packages.
        self._live: dict[str, tuple[bytes, int, Package]] = {}
        self._rejects: dict[str, tuple[bytes, str]] = {}
        self._changed: set[str] = set()
        self._changed_lock = threading.Lock()
        #: Package locations the watcher reported changed, for the load under way.
        self._dirty: set[str] = set()
        #: Whether the load under way follows a short list of changes from the watcher:
        #: then the packages it did not report are not stat'ed again.
        self._trusted = False
        self._first = True
        #: Packages (and refusals) of the last load taken as held, and loaded afresh.
        self.reused = 0
        self.loaded_count = 0
        #: Filled by ``begin``, read by ``finish``.
        self._next: dict[str, tuple[bytes, int, Package]] = {}
        self._next_rejects: list[tuple[str, bytes, str]] = []
        self._stored: dict[str, tuple[bytes, int, bytes]] = {}
        #: The thread taking the stored packages' fingerprints before the first load.
        self._prefetch: tuple[threading.Thread, dict[str, bytes | None]] | None = None
        #: Fingerprints taken during the load under way.
        self._prints: dict[str, bytes | None] = {}
        #: Package folders inside which the last walk found zips (walked every time).
        self._zips_inside: set[str] = set()

    def changed(self, paths: Iterable[str]) -> None:
        """Paths the watcher saw change: their packages are loaded again at the next load,
        whatever their fingerprint says. (Called from the watcher's thread.)"""
        with self._changed_lock:
            self._changed.update(paths)

    def _take_changed(self) -> set[str]:
        """Every path that may be a package whose files changed: each reported path and
        its parent folders (a ``.sig`` counts for its package)."""
        with self._changed_lock:
            changed, self._changed = self._changed, set()
        self._trusted = not self._first and 0 < len(changed) <= TRUSTED_CHANGES
        out: set[str] = set()
        for path in changed:
            path = os.path.normpath(path).removesuffix(".sig")
            while path not in out:
                out.add(path)
                parent = os.path.dirname(path)
                if parent == path:
                    break
                path = parent
        return out

    def _print(self, location: str) -> bytes | None:
        """``fingerprint(location)``, taken once per load; on a reload the watcher asked
        for, the current catalog's own for every package it did not report."""
        if self._trusted and location not in self._dirty:
            live = self._live.get(location)
            if live is not None:
                return live[0]
        try:
            return self._prints[location]
        except KeyError:
            found = self._prints[location] = fingerprint(location)
            return found

    def fingerprints(self, found: Iterable[str]) -> list[bytes | None]:
        """Fingerprints of ``found``. (Taken one after the other: threads were measured
        slower, the time being Python's around each ``stat`` rather than the call's.)"""
        return [self._print(path) for path in found]

    def _unchanged(self, location: str) -> bool:
        """Whether ``location`` is a package held (live or stored) with its fingerprint."""
        if location in self._dirty:
            return False
        held = self._live.get(location) or self._stored.get(location)
        return held is not None and held[0] == self._print(location)

    def unchanged_folder(self, path: str) -> bool:
        """Whether the zip walk may skip ``path``: a package folder held unchanged in which
        the last walk found no zip."""
        location = os.path.normpath(path)
        return location not in self._zips_inside and self._unchanged(location)

    def unchanged_zip(self, path: str) -> bool:
        """Whether ``path`` is a zip held unchanged (so it is known to open)."""
        return self._unchanged(os.path.normpath(path))

    def prefetch(self) -> None:
        """Read the stored packages and start taking their fingerprints in a thread, so
        that the ``stat`` calls (which wait without the GIL) overlap whatever start-up does
        before the first load; ``begin`` collects them."""
        self._stored = self.store.known()
        locations = list(self._stored)
        prints: dict[str, bytes | None] = {}

        def take() -> None:
            for location in locations:
                prints[location] = fingerprint(location)

        thread = threading.Thread(target=take, name="catalog-fingerprints", daemon=True)
        thread.start()
        self._prefetch = (thread, prints)

    def begin(self) -> None:
        """Start a load of every package path."""
        self._dirty = self._take_changed()
        self._prints = {}
        self._next = {}
        self._next_rejects = []
        self.reused = self.loaded_count = 0
        if self._first:
            if self._prefetch is None:
                self._stored = self.store.known()
            else:
                thread, prints = self._prefetch
                thread.join()
                self._prints.update(prints)
                self._prefetch = None
            self._rejects = self.store.known_rejects()
            self._zips_inside = set(self.store.get_meta("zips_inside") or ())

    def known(
        self, location: str, print_: bytes | None, files: Callable[[str], PackageFiles]
    ) -> Package | Reject | None:
        """The package (or refusal) stored for ``location`` with this fingerprint."""
        if print_ is None or location in self._dirty:
            return None
        live = self._live.get(location)
        if live is not None and live[0] == print_:
            self._next[location] = live
            self.reused += 1
            return live[2]
        stored = self._stored.get(location)
        if stored is not None and stored[0] == print_:
            package = self.store.revive(stored[1], stored[2], files(location))
            self._next[location] = (print_, stored[1], package)
            self.reused += 1
            return package
        rejected = self._rejects.get(location)
        if rejected is not None and rejected[0] == print_:
            self._next_rejects.append((location, print_, rejected[1]))
            self.reused += 1
            return Reject(location, rejected[1])
        return None

    def loaded(
        self,
        results: Sequence[tuple[str, bytes | None, StoredForm | Reject]],
        files: Callable[[str], PackageFiles],
    ) -> list[Package | Reject]:
        """Store what was just loaded; the packages come back with their documents in the
        file (or kept compressed in memory when it cannot be written)."""
        forms = [
            (location, print_, result)
            for location, print_, result in results
            if isinstance(result, StoredForm) and print_ is not None
        ]
        stored = None if self.store.failed else self.store.add(forms, files)
        by_location: dict[str, tuple[int, Package]] = {}
        if stored is not None:
            for (location, _, _), row_package in zip(forms, stored, strict=True):
                by_location[location] = row_package
        out: list[Package | Reject] = []
        self.loaded_count += len(results)
        for location, print_, result in results:
            if isinstance(result, Reject):
                if print_ is not None:
                    self._next_rejects.append((location, print_, result.reason))
                out.append(result)
                continue
            found = by_location.get(location)
            if found is None:
                package = revive(
                    result.light, FormDocuments(result), files(location), self.store.interned
                )
            else:
                assert print_ is not None  # only fingerprinted packages were stored
                package = found[1]
                self._next[location] = (print_, found[0], package)
            out.append(package)
        return out

    def finish(self, grace: float) -> None:
        """Make this load's packages the current ones and retire the rows it replaced."""
        rows = {row for _, row, _ in self._next.values()}
        if self._first:
            self.store.keep_only(rows)
        else:
            self.store.retire(row for _, row, _ in self._live.values() if row not in rows)
            self.store.sweep(grace)
        self.store.set_rejects(self._next_rejects)
        self._rejects = {location: (mark, why) for location, mark, why in self._next_rejects}
        zips_inside = _folders_holding_zips(self._next)
        if zips_inside != self._zips_inside:
            self.store.set_meta("zips_inside", sorted(zips_inside))
            self._zips_inside = zips_inside
        log.info(
            "persistent catalog: %d packages taken as they were, %d loaded",
            self.reused,
            self.loaded_count,
            extra={"file.path": self.store.path},
        )
        self._live = self._next
        self._stored = {}
        self._prints = {}
        self._dirty = set()
        self._first = False


def _folders_holding_zips(locations: Iterable[str]) -> set[str]:
    """The package folders among ``locations`` that have a zip among ``locations`` below."""
    locations = set(locations)
    out = set()
    for location in locations:
        if location.endswith(".zip"):
            parent = os.path.dirname(location)
            while parent and parent != os.path.dirname(parent):
                if parent in locations:
                    out.add(parent)
                parent = os.path.dirname(parent)
    return out

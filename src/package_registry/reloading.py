"""Keeping the served catalog current after start-up: package paths and storage bucket.

Two things can change what is served: files under the package paths
(``-package-paths-enable-watcher``) and the storage bucket's cursor
(``-feature-storage-indexer``, polled every ``-storage-indexer-watch-interval``). Each
is noticed by its own thread; whichever fires loads only its own part again (the paths
or the bucket's index), and a new catalog is built from the current parts in the
reference's precedence — storage, then zips, then folders — and swapped in at once.
A failed load leaves the last good catalog serving. One lock orders the two threads.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from package_registry.catalog.build import build_catalog
from package_registry.catalog.holder import CatalogHolder
from package_registry.catalog.snapshot import Catalog
from package_registry.heap import trim_heap
from package_registry.loading import LoadOutcome
from package_registry.packages.model import Package
from package_registry.sources.watcher import PackagePathWatcher

if TYPE_CHECKING:  # the Google client libraries load only with a storage bucket
    from package_registry.observability.metrics import Metrics
    from package_registry.sources.storage import StorageIndex
    from package_registry.web.changes import CatalogChanges

log = logging.getLogger("package_registry")


def catalog_sources(storage: StorageIndex | None, local: LoadOutcome) -> list[list[Package]]:
    """The package lists of a catalog, in precedence order: storage, zips, folders."""
    return ([list(storage.packages)] if storage is not None else []) + local.sources


def update_storage_index(storage: StorageIndex, metrics: Metrics | None) -> bool:
    """``storage.update()``, counted and timed in the storage indexer's series."""
    from package_registry.sources.storage import StorageError

    started = time.perf_counter()
    changed = failed = False
    try:
        changed = storage.update()
    except StorageError:
        failed = True
        raise
    finally:
        if metrics is not None:
            seconds = time.perf_counter() - started
            metrics.observe_storage_update(seconds, changed=changed, failed=failed)
    return changed


class CatalogRefresher:
    """Reloads the package paths after they change and the storage index when its
    cursor moves; swaps each resulting catalog into ``holder``."""

    def __init__(
        self,
        holder: CatalogHolder,
        local: LoadOutcome,
        *,
        load_local: Callable[[], LoadOutcome],
        strict: bool,
        watch_paths: Sequence[str] = (),
        storage: StorageIndex | None = None,
        poll_seconds: float = 0.0,
        metrics: Metrics | None = None,
        after_swap: Callable[[Catalog], None] | None = None,
        note_changed: Callable[[Collection[str]], None] = lambda _: None,
    ) -> None:
        self._holder = holder
        #: Called with each new catalog once it is served (the archive cache's sweep).
        self._after_swap = after_swap
        #: Told which paths changed before each reload of the package paths.
        self._note_changed = note_changed
        self._local = local
        self._load_local = load_local
        self._strict = strict
        self._storage = storage
        self._poll_seconds = poll_seconds
        self._metrics = metrics
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._changed: Callable[[], None] = lambda: None
        self._watcher = PackagePathWatcher(watch_paths, self.reload_paths) if watch_paths else None
        self._poller: threading.Thread | None = None

    def start(self, changed: Callable[[], None]) -> None:
        """Start the watcher and the poller; ``changed`` is called after each swap."""
        self._changed = changed
        if self._watcher is not None:
            self._watcher.start()
        if self._storage is not None and self._poll_seconds > 0:
            self._poller = threading.Thread(target=self._poll, name="storage-poll", daemon=True)
            self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.stop()

    def reload_paths(self, changed: Collection[str] = ()) -> bool:
        """Load the package paths again and serve the result. Returns whether it did.

        ``changed`` are paths known to have changed (what the watcher saw): their packages
        are loaded again even where the persistent catalog holds them unchanged.
        """
        self._note_changed(changed)
        with self._lock:
            try:
                outcome = self._load_local()
                if outcome.rejects and self._strict:
                    raise ValueError(outcome.error_text())
            except Exception as exc:
                log.error(
                    "updating package filesystem index failed", extra={"error.message": str(exc)}
                )
                return False
            self._local = outcome
            self._swap()
        log.info("package filesystem index updated", extra={"packages": outcome.package_count})
        return True

    def reload_paths_and_wait(self, changes: CatalogChanges, timeout: float) -> bool:
        """Load the package paths now and return once every worker serves the result
        (False: the load failed, or the workers were not replaced within ``timeout``)."""
        if not self.reload_paths():
            return False
        # Our swap, or a later one (which loaded the paths after ours did).
        return changes.wait_served(changes.swaps, timeout)

    def update_storage(self) -> bool:
        """Bring the storage index in step with its cursor and serve the result if it
        moved. Returns whether a new catalog is served."""
        from package_registry.sources.storage import StorageError

        assert self._storage is not None
        with self._lock:
            try:
                if not update_storage_index(self._storage, self._metrics):
                    return False
            except StorageError as exc:
                log.error("can't update index file", extra={"error.message": str(exc)})
                return False
            self._swap()
        log.info("storage index updated", extra={"storage.cursor": self._storage.cursor})
        return True

    def _poll(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            self.update_storage()

    def _swap(self) -> None:
        catalog = build_catalog(catalog_sources(self._storage, self._local))
        # Start-up froze the old catalog with everything else: unfreeze so it can be
        # collected, then freeze the new one for the workers forked from here.
        gc.unfreeze()
        self._holder.swap(catalog)
        gc.collect()
        trim_heap()
        gc.freeze()
        if self._metrics is not None:
            self._metrics.indexed_packages.set(len(catalog))
        self._changed()
        if self._after_swap is not None:
            self._after_swap(catalog)

"""Noticing changes under the package paths (``-package-paths-enable-watcher``).

A background thread follows the package paths with watchfiles (inotify on Linux) and
calls ``on_change`` once things have been quiet for ``QUIET_MS`` after the last event,
as the reference re-scans one second after the last change. What happens then — a new
catalog loaded and swapped in, workers replaced — is the caller's business; the watcher
only says *when*.

Unlike the reference, which watches only the direct children of each package path
(new ``<name>`` folders and zip files), the whole tree is followed, so a new version
folder ``<name>/<version>/`` added to an existing package is noticed too.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger("package_registry.watcher")

#: Quiet time after the last change before ``on_change`` is called.
QUIET_MS = 1000
#: Longest a stream of changes is grouped before ``on_change`` is called anyway.
LONGEST_MS = 10_000


class PackagePathWatcher:
    """Calls ``on_change`` with the changed paths from a daemon thread after changes
    under ``paths`` settle."""

    def __init__(
        self,
        paths: Sequence[str],
        on_change: Callable[[set[str]], object],
        *,
        quiet_ms: int = QUIET_MS,
        longest_ms: int = LONGEST_MS,
    ) -> None:
        self.paths = [path for path in paths if os.path.isdir(path)]
        for path in paths:
            if path not in self.paths:
                log.warning("package path %s is not a directory; not watched", path)
        self._on_change = on_change
        self._quiet_ms = quiet_ms
        self._longest_ms = longest_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching (no-op when none of the paths exists)."""
        if not self.paths:
            return
        self._thread = threading.Thread(target=self._run, name="package-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        import watchfiles  # 30 ms of imports that only a watching registry should pay

        try:
            for changes in watchfiles.watch(
                *self.paths,
                step=self._quiet_ms,
                debounce=self._longest_ms,
                stop_event=self._stop,
                raise_interrupt=False,
            ):
                log.debug("package paths changed", extra={"changes": len(changes)})
                try:
                    self._on_change({path for _, path in changes})
                except Exception:  # the next change must still be noticed
                    log.exception("reacting to a package path change failed")
        except Exception as exc:  # e.g. out of inotify watches
            log.error("package paths are no longer watched: %s", exc)

"""When the workers serve a new catalog, for callers that must not answer before.

A reload swaps the catalog in the main process; with several workers, ``web/server.py``
then forks new ones and retires the old ones. A request that caused the reload (a
publish) must answer only once that is done, or a client could still reach a worker
with the old catalog.
"""

from __future__ import annotations

import threading


class CatalogChanges:
    """Catalog swaps, and when workers serve them.

    The refresher calls ``changed`` after each swap; ``_supervise`` takes the swaps and
    replaces the workers, then marks them served. With one worker the process that
    swapped is the one serving, so a swap is served at once. ``wait_served`` lets a
    caller that caused a swap answer only once every worker serves it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.swaps = 0
        self._taken = 0
        self._served = 0
        #: One worker: a swap is served as soon as it is made.
        self.immediate = False

    def changed(self) -> None:
        with self._cond:
            self.swaps += 1
            if self.immediate:
                self._served = self.swaps
            self._cond.notify_all()

    def take(self) -> int | None:
        """The latest swap not yet handed to workers, if any."""
        with self._cond:
            if self.swaps == self._taken:
                return None
            self._taken = self.swaps
            return self._taken

    def wait_changed(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.swaps != self._taken, timeout)

    def served(self, swap: int) -> None:
        with self._cond:
            self._served = max(self._served, swap)
            self._cond.notify_all()

    def wait_served(self, swap: int, timeout: float) -> bool:
        """Whether workers serving swap ``swap`` (or a later one) run within ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: self._served >= swap, timeout)

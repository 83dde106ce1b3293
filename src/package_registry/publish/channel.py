"""Asking the main process for a catalog that includes what a worker just stored.

Catalogs are loaded and swapped in the main process, which then forks new workers for
them (``web/server.py``); a publish request is handled in a worker. Made before the
workers are forked, a ``ReloadChannel`` holds:

- a pipe, on which a worker writes one byte to ask for the package paths to be loaded
  again (one-byte writes are atomic; requests that arrive during a load are served by
  one more load after it);
- three counters in shared memory, written only by the main process: loads started,
  loads finished (with new workers serving the result), and the last that succeeded.

A worker that has stored a file reads ``started`` (S), writes its byte, and waits for
``finished`` to reach S + 1: load S + 1 began after the file was in place, so its
catalog has it. With one worker the same happens within one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Callable

log = logging.getLogger("package_registry.publish")

_STARTED, _FINISHED, _SUCCEEDED = range(3)
#: How often a waiting request looks at the counters.
POLL_SECONDS = 0.01


class ReloadChannel:
    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._counts = multiprocessing.RawArray("q", 3)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- in a worker ---------------------------------------------------------------------

    def request(self) -> int:
        """Ask for a load of the package paths; returns the load to wait for."""
        target = self._counts[_STARTED] + 1
        with contextlib.suppress(BlockingIOError):  # a full pipe: loads are pending anyway
            os.write(self._write, b"r")
        return target

    async def served(self, target: int, timeout: float) -> bool | None:
        """Wait for load ``target``: True once served, False if it failed, None if it
        has not finished within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self._counts[_FINISHED] < target:
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(POLL_SECONDS)
        return self._counts[_SUCCEEDED] >= target

    # --- in the main process -------------------------------------------------------------

    def start(self, reload_and_serve: Callable[[], bool]) -> None:
        """Serve requests from a thread: ``reload_and_serve`` loads the package paths and
        returns once workers serving the result run (False: the load failed)."""
        self._thread = threading.Thread(
            target=self._serve, args=(reload_and_serve,), name="publish-reloads", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _serve(self, reload_and_serve: Callable[[], bool]) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._read], [], [], 0.5)
            if not ready:
                continue
            with contextlib.suppress(BlockingIOError):
                while os.read(self._read, 4096):
                    pass
            number = self._counts[_STARTED] + 1
            self._counts[_STARTED] = number
            try:
                ok = reload_and_serve()
            except Exception:  # the thread must keep serving requests
                log.exception("loading the package paths for a publish request failed")
                ok = False
            if ok:
                self._counts[_SUCCEEDED] = number
            self._counts[_FINISHED] = number

"""Retiring a worker: it stops accepting connections at once, and tells the parent so.

After a reload the parent forks new workers and asks the old ones to stop. uvicorn
notices a stop signal at its next tick (up to 0.1 s later, more on a busy machine) and
only then closes its listeners; meanwhile an old worker could still take a new
connection and answer it from the catalog it is retiring with. That matters once a
client has been told that a new catalog is served (a publish request's 201). So here a
worker closes its listeners as soon as the signal is handled — also when it arrives
before uvicorn has started — and then writes its pid to a pipe, and the parent waits for
those notes (``Retirements.wait``) before it calls the new catalog served.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import socket
import struct
import time
from collections.abc import Iterable
from types import FrameType

import uvicorn

_PID = struct.Struct("<i")

#: A stop signal reached this worker before uvicorn took over the signals.
_stop_early = False


def stopped(signum: int, _frame: object) -> None:
    """The stop signals' handler outside uvicorn's run: before it (remembered, so the
    worker stops as soon as it has started instead of serving an old catalog) and after
    it, when uvicorn re-raises the signal it stopped for (nothing left to do)."""
    global _stop_early
    _stop_early = True


class Retirements:
    """The pipe on which retiring workers say they no longer accept connections."""

    def __init__(self) -> None:
        self._read, self.writer = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self.writer, False)

    def wait(self, pids: Iterable[int], timeout: float) -> set[int]:
        """Wait until each of ``pids`` has stopped accepting, at most ``timeout`` seconds;
        returns those that did not say so (gone, or still starting)."""
        pending = set(pids)
        deadline = time.monotonic() + timeout
        while pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                break
            with contextlib.suppress(BlockingIOError):
                data = os.read(self._read, 4096)  # whole 4-byte notes: writes are atomic
                for (pid,) in _PID.iter_unpack(data[: len(data) - len(data) % _PID.size]):
                    pending.discard(pid)
        return pending


class WorkerServer(uvicorn.Server):
    """uvicorn's server, closing its listeners as soon as it is asked to stop."""

    _loop: asyncio.AbstractEventLoop | None = None
    _closed = False

    def __init__(self, config: uvicorn.Config, retired: int | None = None) -> None:
        super().__init__(config)
        #: Where to write this process's pid once its listeners are closed.
        self._retired = retired

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)
        if _stop_early or self.should_exit:
            self.should_exit = True
            self._stop_accepting()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stop_accepting)

    def _stop_accepting(self) -> None:
        listeners = getattr(self, "servers", None)
        if listeners is None or self._closed:  # not started yet: startup will do it
            return
        self._closed = True
        for listener in listeners:
            listener.close()
        if self._retired is not None:
            with contextlib.suppress(OSError):
                os.write(self._retired, _PID.pack(os.getpid()))


def install_early_stop() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stopped)

"""Loading packages in forked worker processes, any of which may die mid-chunk.

A worker can be killed while it holds a chunk of packages (the out-of-memory killer, a
signal, a crash in a parser's C code); each worker's process sentinel is watched beside
its pipe, so a death is seen at once and logged, the chunk's packages are retried one per
task, and a package whose worker dies again is rejected instead of hanging start-up.
"""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import pickle
import signal
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkProcess
from typing import Any, Generic, TypeVar

import orjson

from package_registry.packages.versions import Constraint

logger = logging.getLogger("package_registry.sources")

R = TypeVar("R")
_JOIN_TIMEOUT = 5.0


@dataclass(slots=True)
class _Task:
    """Consecutive paths starting at ``start`` in the load order."""

    start: int
    paths: list[str]
    #: A package of a chunk whose worker died, tried once more on its own.
    retry: bool = False


class _Worker:
    """One forked process loading the chunks sent down its pipe until told to stop."""

    def __init__(self, load: Callable[[str], Any]) -> None:
        context = multiprocessing.get_context("fork")
        self.conn, child = context.Pipe()
        self.process: ForkProcess = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(child, load), daemon=True
        )
        self.process.start()
        child.close()
        self.task: _Task | None = None

    def send(self, task: _Task) -> None:
        self.task = task
        self.conn.send(task.paths)

    def receive(self) -> bytes | None:
        """The pickled results of the current task, or ``None`` if the worker died."""
        try:
            if self.conn.poll():
                return self.conn.recv_bytes()
        except (EOFError, OSError):
            pass
        return None

    def cause(self) -> str:
        """How the worker ended, once it has: ``killed by SIGKILL`` or ``exit status 3``."""
        self.process.join(_JOIN_TIMEOUT)
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    def stop(self) -> None:
        """Ask an idle worker to exit; kill it if it does not."""
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.conn.close()
        self.process.join(_JOIN_TIMEOUT)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def _serve(conn: Connection, load: Callable[[str], Any]) -> None:
    """In a worker: load each chunk received and send its pickled results back."""
    while True:
        try:
            paths = conn.recv()
        except EOFError:
            return
        if paths is None:
            return
        buffer = io.BytesIO()
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump([load(path) for path in paths])
        conn.send_bytes(buffer.getvalue())


class _Pool(Generic[R]):
    """Hands chunks to at most ``size`` workers and puts results back in load order."""

    def __init__(
        self, load: Callable[[str], R], died: Callable[[str, str], R], size: int, count: int
    ) -> None:
        self.load = load
        self.died = died
        self.size = size
        self.results: list[R | None] = [None] * count
        self.pending: deque[_Task] = deque()
        self.idle: list[_Worker] = []
        self.busy: list[_Worker] = []

    def run(self) -> list[R]:
        try:
            while self.pending or self.busy:
                self._dispatch()
                ready = set(
                    wait([w.conn for w in self.busy] + [w.process.sentinel for w in self.busy])
                )
                for worker in [w for w in self.busy if {w.conn, w.process.sentinel} & ready]:
                    self.busy.remove(worker)
                    self._collect(worker)
        finally:
            for worker in self.idle + self.busy:
                worker.stop()
        return self.results  # type: ignore[return-value]  # every slot is filled by now

    def _dispatch(self) -> None:
        while self.pending and (self.idle or len(self.busy) < self.size):
            worker = self.idle.pop() if self.idle else _Worker(self.load)
            worker.send(self.pending.popleft())
            self.busy.append(worker)

    def _collect(self, worker: _Worker) -> None:
        task = worker.task
        assert task is not None
        worker.task = None
        payload = worker.receive()
        if payload is not None:
            self.results[task.start : task.start + len(task.paths)] = pickle.loads(payload)
            self.idle.append(worker)
            return
        cause = worker.cause()
        worker.stop()
        if task.retry:
            logger.error(
                "package loading process died again, package rejected",
                extra={"file.path": task.paths[0], "error.message": cause},
            )
            self.results[task.start] = self.died(task.paths[0], cause)
            return
        logger.error(
            "package loading process died, retrying each of its packages on its own",
            extra={
                "process.pid": worker.process.pid,
                "error.message": cause,
                "file.path": task.paths[0],
                "packages.count": len(task.paths),
            },
        )
        self.pending.extend(
            _Task(task.start + offset, [path], retry=True) for offset, path in enumerate(task.paths)
        )


def load_in_processes(
    paths: list[str],
    load: Callable[[str], R],
    died: Callable[[str, str], R],
    workers: int,
) -> list[R]:
    """``[load(path) for path in paths]``, computed by up to ``workers`` forked processes.

    A package whose worker dies twice (alone the second time) gets ``died(path, cause)``
    instead. The caller must have no other thread running: only the forking one survives
    in the children.
    """
    size = max(4, len(paths) // (workers * 8))
    pool = _Pool(load, died, workers, len(paths))
    pool.pending.extend(
        _Task(start, paths[start : start + size]) for start in range(0, len(paths), size)
    )
    return pool.run()


class _Pickler(pickle.Pickler):
    """Pickles ``orjson.Fragment`` (pre-rendered JSON numbers) by its bytes."""

    def reducer_override(self, obj: Any) -> Any:
        if obj.__class__ is orjson.Fragment:
            return orjson.Fragment, (orjson.dumps(obj),)
        if obj.__class__ is Constraint:  # holds compiled checks; re-parsed from its text
            return _constraint, (obj.original,)
        return NotImplemented


def _constraint(text: str) -> Constraint:
    return Constraint.parse(text)

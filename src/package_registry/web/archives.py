"""Archives of folder packages, built once per package and kept on disk.

The reference streams a fresh zip for every download of an unpacked package; we build
it the first time it is asked for, in a private cache folder, and from then on serve a
plain file (``Content-Length``, zero-copy). Builds run in a worker thread so the event
loop keeps answering, and concurrent requests for the same archive share one build.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from typing import BinaryIO

Builder = Callable[[BinaryIO], None]


class ArchiveCache:
    """Files keyed by an identity string; each built at most once per process."""

    def __init__(self, directory: str | None = None) -> None:
        self._owned = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="package-registry-archives-")
        os.makedirs(self.directory, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _path(self, key: str, suffix: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return os.path.join(self.directory, f"{digest}{suffix}")

    def _build(self, path: str, builder: Builder) -> str:
        with self._guard:
            lock = self._locks.setdefault(path, threading.Lock())
        with lock:
            if os.path.exists(path):
                return path
            fd, partial = tempfile.mkstemp(dir=self.directory, suffix=".partial")
            try:
                with os.fdopen(fd, "wb") as out:
                    builder(out)
                os.replace(partial, path)
            except BaseException:
                os.unlink(partial)
                raise
            return path

    async def get(self, key: str, suffix: str, builder: Builder) -> str:
        """Path of the archive for ``key``, building it with ``builder`` if needed."""
        path = self._path(key, suffix)
        if os.path.exists(path):
            return path
        return await asyncio.to_thread(self._build, path, builder)

    def close(self) -> None:
        """Remove the cache folder if this instance created it."""
        if self._owned:
            shutil.rmtree(self.directory, ignore_errors=True)

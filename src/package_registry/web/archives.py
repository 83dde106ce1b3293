"""Archives of folder packages, built once per package content and kept on disk.

The reference streams a fresh zip for every download of an unpacked package; we build
it the first time it is asked for, in a cache folder, and from then on serve a plain
file (``Content-Length``, zero-copy). Builds run in a worker thread so the event loop
keeps answering, and concurrent requests for the same archive share one build.

An archive is named by its package folder (or zip, for the legacy ``.tar.gz``) and a
fingerprint of its files (each entry's path, size and modification time), so a reload
that leaves a package unchanged reuses its archive, and a changed package gets a new
one. Disk use stays bounded:

- after each catalog swap, ``sweep`` deletes the archives no package of the new catalog
  can ask for (folder gone or content changed), ``grace`` seconds later (the command
  line gives the time a retiring worker may live, ``-shutdown-timeout``, and at least
  ``GRACE_SECONDS``): a worker still serving the previous catalog may be about to open
  one (an archive being sent stays readable until closed, and one deleted under a
  worker is rebuilt on its next request);
- the folder is ``<temp dir>/package-registry-archives-<pid>``, removed at shutdown,
  and at start-up the folders of processes that no longer exist (killed before they
  could remove theirs) are deleted.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from typing import BinaryIO

__all__ = ["GRACE_SECONDS", "PREFIX", "ArchiveCache", "fingerprint", "remove_stale_folders"]

Builder = Callable[[BinaryIO], None]

#: Start of the cache folder's name; the owning process id follows.
PREFIX = "package-registry-archives-"
#: Seconds between a catalog swap and the deletion of the archives it made unreachable:
#: a worker still serving the previous catalog may be about to open one.
GRACE_SECONDS = 10.0
#: Suffix of archives being written.
PARTIAL = ".partial"
#: Unfinished builds older than this were abandoned (their process died).
PARTIAL_SECONDS = 600.0

log = logging.getLogger("package_registry.archives")


def fingerprint(folder: str) -> str:
    """A digest of the tree below ``folder``: every entry's path, type, size and mtime
    (of a zip package: the file's size and mtime).

    Equal digests mean the archive built from it would be the same; links are described
    by what they point to (a dangling one by its own entry).
    """
    digest = hashlib.sha256()
    info = os.stat(folder)
    if not stat.S_ISDIR(info.st_mode):  # a zip package, made into a .tar.gz
        digest.update(os.fsencode(f"z {info.st_size} {info.st_mtime_ns}"))
        return digest.hexdigest()[:32]
    pending = [""]
    while pending:
        relative = pending.pop()
        with os.scandir(os.path.join(folder, relative)) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:
            path = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir(follow_symlinks=False):
                digest.update(b"d %s\0" % os.fsencode(path))
                pending.append(path)
                continue
            try:
                info = entry.stat()
            except OSError:
                info = entry.stat(follow_symlinks=False)
            line = f"f {path} {info.st_size} {info.st_mtime_ns} {info.st_mode:o}\0"
            digest.update(os.fsencode(line))
    return digest.hexdigest()[:32]


def _location_digest(location: str) -> str:
    return hashlib.sha256(os.fsencode(location)).hexdigest()[:16]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_folders(parent: str | None = None) -> list[str]:
    """Delete ``PREFIX<pid>`` folders in ``parent`` (the temp dir) whose process is gone."""
    parent = parent or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        pid = name.removeprefix(PREFIX)
        if name == pid or not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        path = os.path.join(parent, name)
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            removed.append(path)
            log.info("removed the archive cache of a stopped process", extra={"path": path})
    return removed


class ArchiveCache:
    """Archive files named by (package folder, content fingerprint, suffix)."""

    def __init__(self, directory: str | None = None, grace: float = GRACE_SECONDS) -> None:
        self.grace = grace
        self._owned = directory is None
        self._owner = os.getpid()
        if directory is None:
            remove_stale_folders()
            # Left by an earlier process with this pid, its archives are named by content:
            # reused when still right, swept like any other when not.
            directory = os.path.join(tempfile.gettempdir(), f"{PREFIX}{os.getpid()}")
        self.directory = directory
        os.makedirs(self.directory, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        #: Fingerprints by package folder, for one catalog generation (a reload may
        #: change the files; within a generation they are taken as they were first seen).
        self._fingerprints: dict[str, str] = {}
        self._generation: int | None = None

    def _name(self, location: str, digest: str, suffix: str) -> str:
        return f"{_location_digest(location)}-{digest}{suffix}"

    def _fingerprint(self, generation: int, location: str) -> str:
        with self._guard:
            if generation != self._generation:
                self._fingerprints = {}
                self._generation = generation
            found = self._fingerprints.get(location)
        if found is None:
            found = fingerprint(location)
            with self._guard:
                if generation == self._generation:
                    self._fingerprints[location] = found
        return found

    def _build(self, generation: int, location: str, suffix: str, builder: Builder) -> str:
        path = os.path.join(
            self.directory, self._name(location, self._fingerprint(generation, location), suffix)
        )
        with self._guard:
            lock = self._locks.setdefault(path, threading.Lock())
        with lock:
            if os.path.exists(path):
                return path
            # Recreated if removed under us (a process sharing the temp dir in another
            # pid namespace may have taken this one's pid for a dead one).
            os.makedirs(self.directory, exist_ok=True)
            fd, partial = tempfile.mkstemp(dir=self.directory, suffix=PARTIAL)
            try:
                with os.fdopen(fd, "wb") as out:
                    builder(out)
                os.replace(partial, path)
            except BaseException:
                os.unlink(partial)
                raise
            return path

    async def get(self, generation: int, location: str, suffix: str, builder: Builder) -> str:
        """Path of the archive of the folder ``location`` as served in catalog
        ``generation``, building it with ``builder`` if needed."""
        with self._guard:
            digest = self._fingerprints.get(location) if generation == self._generation else None
        if digest is not None:
            path = os.path.join(self.directory, self._name(location, digest, suffix))
            if os.path.exists(path):
                return path
        return await asyncio.to_thread(self._build, generation, location, suffix, builder)

    def unreachable(self, locations: Iterable[str]) -> set[str]:
        """Names of the archives no folder in ``locations`` asks for (folder gone or
        content changed), and of builds left unfinished for ``PARTIAL_SECONDS``."""
        wanted = {_location_digest(location): location for location in locations}
        current: dict[str, str | None] = {}
        found = set()
        try:
            names = os.listdir(self.directory)
        except OSError:
            return found
        for name in names:
            if name.endswith(PARTIAL):
                try:
                    age = time.time() - os.stat(os.path.join(self.directory, name)).st_mtime
                except OSError:
                    continue
                if age > PARTIAL_SECONDS:
                    found.add(name)
                continue
            located, _, rest = name.partition("-")
            if located in wanted:
                if located not in current:
                    try:
                        current[located] = fingerprint(wanted[located])
                    except OSError:
                        current[located] = None
                digest = current[located]
                if digest is not None and rest.startswith(digest):
                    continue
            found.add(name)
        return found

    def sweep(self, locations: Callable[[], Iterable[str]]) -> None:
        """After a catalog swap: in ``grace`` seconds, delete the archives that the new
        catalog could not ask for and that the then current one (``locations()``, its
        folder packages) cannot ask for either."""
        candidates = self.unreachable(locations())
        if not candidates:
            return
        timer = threading.Timer(self.grace, self._delete, (candidates, locations))
        timer.daemon = True
        timer.start()

    def _delete(self, candidates: set[str], locations: Callable[[], Iterable[str]]) -> None:
        removed = 0
        for name in candidates & self.unreachable(locations()):
            path = os.path.join(self.directory, name)
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            with self._guard:
                self._locks.pop(path, None)
            removed += 1
        if removed:
            log.info("archive cache swept", extra={"archives.removed": removed})

    def close(self) -> None:
        """Remove the cache folder if this process created it (not in forked workers)."""
        if self._owned and os.getpid() == self._owner:
            shutil.rmtree(self.directory, ignore_errors=True)

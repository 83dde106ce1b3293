"""Packages unpacked on disk as ``<package path>/<name>/<version>/``.

Discovery follows the reference's directory walk (version directories must be strict
semver; anything else is logged and skipped), and ``FolderFiles`` gives the manifest
logic and the HTTP layer access to one package folder. Symbolic links are followed only
while they stay inside the package folder: a linked package or version folder is skipped,
and a link inside a package that leads out of it is ignored (not listed, read or served),
each logged once at warning level with the reason.
"""

from __future__ import annotations

import functools
import logging
import os
import stat
from collections.abc import Sequence
from typing import BinaryIO

from package_registry.packages.errors import ReaderError
from package_registry.packages.files import FileInfo, safe_relpath
from package_registry.packages.limits import DEFAULT_LIMITS, LoadLimits, SizeLimit, read_bounded
from package_registry.packages.reader import Entry
from package_registry.packages.versions import is_strict_version
from package_registry.sources.base import LoadReport, Reject
from package_registry.sources.reuse import Reuse
from package_registry.sources.walk import (
    go_error_text,
    iter_tree,
    listing_failed,
    load_packages,
    scan_sorted,
    signature_beside,
)

logger = logging.getLogger("package_registry.sources")


def _valid_path(name: str) -> bool:
    """Go's ``fs.ValidPath``: no empty, ``.`` or ``..`` elements, no leading/trailing slash."""
    if name == ".":
        return True
    return "\x00" not in name and all(part not in ("", ".", "..") for part in name.split("/"))


class FolderFiles:
    """One package folder: file access for serving and for loading."""

    kind = "folder"

    def __init__(self, location: str, limits: LoadLimits = DEFAULT_LIMITS) -> None:
        self.location = location
        self.limits = limits
        self.signature: str | None = None
        self._real_root: str | None = None
        #: Whether links leading out of the package were logged (once per load).
        self._links_reported = False
        #: The walk of the package while it is being loaded (released by ``close``).
        self._entries: list[Entry] | None = None
        #: Whether that walk met a symbolic link; only then can a read lead out.
        self._has_links = False
        #: Request paths already resolved to a file inside the package (bounded by its files).
        self._resolved: dict[str, str] = {}

    # serving

    def stat(self, relpath: str) -> FileInfo | None:
        """Size and mtime of a regular file inside the package, else ``None``."""
        path = self._resolved.get(relpath) or self._inside(relpath)
        if path is None:
            return None
        try:
            info = os.stat(path)
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        self._resolved[relpath] = path
        return FileInfo(info.st_size, info.st_mtime)

    def open(self, relpath: str) -> BinaryIO:
        """Open a file ``stat`` accepted."""
        path = self._resolved.get(relpath) or self._inside(relpath)
        if path is None:
            raise FileNotFoundError(relpath)
        return open(path, "rb")

    def local_path(self, relpath: str) -> str | None:
        """The real path of a file inside the package, for zero-copy sending."""
        return self._resolved.get(relpath) or (
            self._inside(relpath) if self.stat(relpath) is not None else None
        )

    def _inside(self, relpath: str) -> str | None:
        """The path of ``relpath`` if it resolves inside the package folder."""
        clean = safe_relpath(relpath)
        if clean is None:
            return None
        real = os.path.realpath(os.path.join(self._root(), clean))
        if not real.startswith(self._root() + os.sep):
            return None
        return real

    def _root(self) -> str:
        if self._real_root is None:
            self._real_root = os.path.realpath(self.location)
        return self._real_root

    def _leaves(self, path: str) -> bool:
        """Whether ``path`` (below the package folder) resolves to outside of it."""
        if self._entries is None:
            try:
                self.walk()
            except ReaderError:  # reported by the loader's own walk; check the slow way
                pass
            else:
                if not self._has_links:
                    return False
        elif not self._has_links:
            return False
        return self._outside(os.path.realpath(path))

    def _outside(self, real: str) -> bool:
        root = self._root()
        return real != root and not real.startswith(root + os.sep)

    # loading (the reference reads through Go's os.DirFS)

    def walk(self) -> list[Entry]:
        """Every entry below the package root, depth-first in lexical order.

        A symbolic link leading out of the package is left out (and logged once).
        """
        if self._entries is not None:
            return self._entries
        entries = []
        has_links = False
        try:
            for relpath, entry in iter_tree(self.location):
                if not entry.is_symlink():
                    entries.append(Entry(relpath, relpath, entry.is_dir(follow_symlinks=False)))
                    continue
                has_links = True
                if not self._outside(os.path.realpath(entry.path)):
                    entries.append(Entry(relpath, relpath, None))
                elif not self._links_reported:
                    logger.warning(
                        "ignoring symbolic link leading out of the package",
                        extra={
                            "file.path": entry.path,
                            "error.message": f"{os.readlink(entry.path)} is outside the"
                            f" package folder {self.location}",
                        },
                    )
        except OSError as exc:
            where = os.path.relpath(exc.filename or self.location, self.location)
            raise ReaderError(
                f'failed to walk path "{where}": open {where}: {go_error_text(exc)}'
            ) from None
        self._links_reported = True
        self._entries, self._has_links = entries, has_links
        return entries

    def read(self, name: str, limit: SizeLimit) -> bytes:
        """Read a file the way ``os.DirFS`` opens it, refusing one larger than ``limit``."""
        name = name.removeprefix("/")
        if not _valid_path(name):
            raise ReaderError(f"open {name}: invalid argument")
        path = os.path.join(self.location, name)
        if self._leaves(path):
            raise ReaderError(
                f"open {name}: symbolic link leads out of the package", not_found=True
            )
        try:
            with open(path, "rb") as stream:
                return read_bounded(stream, limit, name, os.fstat(stream.fileno()).st_size)
        except IsADirectoryError:
            raise ReaderError(f"read {path}: is a directory") from None
        except OSError as exc:
            raise ReaderError(
                f"open {name}: {go_error_text(exc)}", not_found=isinstance(exc, FileNotFoundError)
            ) from None

    def is_dir(self, name: str) -> bool:
        """Stat a file the way ``os.DirFS`` does (following links)."""
        name = name.removeprefix("/")
        if not _valid_path(name):
            raise ReaderError(f"stat {name}: invalid argument")
        path = os.path.join(self.location, name)
        if self._leaves(path):
            raise ReaderError(
                f"stat {name}: symbolic link leads out of the package", not_found=True
            )
        try:
            return stat.S_ISDIR(os.stat(path).st_mode)
        except OSError as exc:
            raise ReaderError(
                f"stat {name}: {go_error_text(exc)}", not_found=isinstance(exc, FileNotFoundError)
            ) from None

    def find_signature(self) -> str | None:
        """``<version dir>.sig`` beside the package folder, if it exists."""
        self.signature = signature_beside(self.location)
        return self.signature

    def close(self) -> None:
        """Forget the walk: serving needs none of it."""
        self._entries = None


def load_folders(
    paths: Sequence[str],
    *,
    validate: bool = True,
    require_signatures: bool = True,
    workers: int | None = os.cpu_count(),
    limits: LoadLimits = DEFAULT_LIMITS,
    reuse: Reuse | None = None,
) -> LoadReport:
    """Load every ``<path>/<name>/<version>/`` package below the given package paths."""
    return load_packages(
        paths,
        _discover,
        functools.partial(FolderFiles, limits=limits),
        validate=validate,
        require_signatures=require_signatures,
        workers=workers,
        reuse=reuse,
    )


def _discover(root: str, rejects: list[Reject], _reuse: Reuse | None = None) -> list[str]:
    """Version folders two levels below ``root``, in ``filepath.WalkDir`` order (lexical), as
    the reference's ``FileSystemIndexer.getPackagePaths`` finds them."""
    try:
        if not stat.S_ISDIR(os.lstat(root).st_mode):
            return []
    except FileNotFoundError:
        return []
    except OSError as exc:
        rejects.append(listing_failed(root, exc, "lstat"))
        return []
    found = []
    try:
        for package_dir in scan_sorted(root):
            if package_dir.is_symlink():
                _skip_link(package_dir.path, "package")
                continue
            if not package_dir.is_dir(follow_symlinks=False):
                continue
            entries = scan_sorted(package_dir.path)
            names = {entry.name for entry in entries}
            for version_dir in entries:
                path = os.path.normpath(version_dir.path)
                if version_dir.is_symlink() and not version_dir.name.endswith(".sig"):
                    _skip_link(path, "package version")
                elif not version_dir.is_dir(follow_symlinks=False):
                    # A version's signature (<version>.sig) is expected here; anything
                    # else is reported as the reference does.
                    if version_dir.name.removesuffix(".sig") not in names:
                        logger.warning("ignoring unexpected file", extra={"file.path": path})
                elif is_strict_version(version_dir.name):
                    found.append(path)
                else:
                    logger.warning("ignoring unexpected directory", extra={"file.path": path})
    except OSError as exc:
        rejects.append(listing_failed(root, exc))
    return found


def _skip_link(path: str, what: str) -> None:
    logger.warning(
        f"ignoring symbolic link to a {what} folder",
        extra={
            "file.path": os.path.normpath(path),
            "error.message": "symbolic links are not followed when discovering packages:"
            " a package path must hold the package folders themselves",
        },
    )

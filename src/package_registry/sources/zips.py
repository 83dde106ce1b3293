"""Packages shipped as ``.zip`` files anywhere below a package path.

The package root inside an archive is the folder of its first ``<root>/manifest.yml``
member; entries keep the archive's central-directory order, which the reference's asset
list and data stream order follow. Members whose names contain ``..`` or start with
``/`` are ignored entirely: they are neither loaded nor served.
"""

from __future__ import annotations

import calendar
import functools
import logging
import os
import posixpath
import stat
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import BinaryIO

from package_registry.gopath import clean_path
from package_registry.packages.errors import ReaderError
from package_registry.packages.files import FileInfo, safe_relpath
from package_registry.packages.limits import (
    DEFAULT_LIMITS,
    LoadLimits,
    SizeLimit,
    check_zip_members,
    read_bounded,
)
from package_registry.packages.model import Package
from package_registry.packages.reader import Entry
from package_registry.sources.base import LoadReport, Reject
from package_registry.sources.reuse import Reuse
from package_registry.sources.walk import (
    _load_one,
    iter_tree,
    listing_failed,
    load_packages,
    signature_beside,
)

logger = logging.getLogger("package_registry.sources")

_EXTENDED_TIMESTAMP = 0x5455


def _is_unsafe(name: str) -> bool:
    return name.startswith("/") or "\x00" in name or ".." in name.split("/")


def _member_mtime(info: zipfile.ZipInfo) -> float:
    """The extended-timestamp mtime if present, else the MS-DOS time read as UTC."""
    extra = info.extra
    offset = 0
    while offset + 4 <= len(extra):
        header, size = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4 : offset + 4 + size]
        if header == _EXTENDED_TIMESTAMP and len(body) >= 5 and body[0] & 1:
            return float(struct.unpack_from("<i", body, 1)[0])
        offset += 4 + size
    return float(calendar.timegm((*info.date_time, 0, 0, 0)))


class _Index:
    """An archive's package root and its safe members (names without ``..`` or a leading
    ``/``), looked up by clean name."""

    def __init__(self, location: str, members: list[zipfile.ZipInfo]) -> None:
        #: Names of the members left out for being unsafe.
        self.unsafe = tuple(info.filename for info in members if _is_unsafe(info.filename))
        members = [info for info in members if not _is_unsafe(info.filename)]
        root = ""
        for info in members:
            directory, base = posixpath.split(clean_path(info.filename))
            directory = clean_path(directory)
            if directory != "." and posixpath.dirname(directory) == "" and base == "manifest.yml":
                root = directory
                break
        if not root:
            raise ReaderError(f"failed to determine root directory in package (path: {location})")
        self.root = root
        self.files: dict[str, zipfile.ZipInfo] = {}
        self.dirs: set[str] = set()
        self.entries: list[Entry] = []
        prefix = root + "/"
        for info in members:
            name = info.filename
            clean = clean_path(name)
            if info.is_dir():
                self.dirs.add(clean)
            else:
                self.files.setdefault(clean, info)
            parent = posixpath.dirname(clean)
            while parent and parent not in self.dirs:
                self.dirs.add(parent)
                parent = posixpath.dirname(parent)
            if clean.startswith(prefix):
                self.entries.append(
                    Entry(clean[len(prefix) :], name.removeprefix(prefix), info.is_dir())
                )


def _identity(info: os.stat_result) -> tuple[int, int, int]:
    return (info.st_ino, info.st_size, info.st_mtime_ns)


_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_MAGIC = b"PK\x03\x04"
_ENCRYPTED = 0x1


def _open_member(location: str, info: zipfile.ZipInfo) -> BinaryIO:
    """Open one member from the offset its directory entry gives, without reading the
    central directory again (``zipfile.ZipFile.open`` needs a parsed archive)."""
    if info.flag_bits & _ENCRYPTED:
        raise OSError(f"{info.filename}: encrypted member")
    handle = open(location, "rb")  # noqa: SIM115 (owned by the returned stream)
    try:
        handle.seek(info.header_offset)
        header = handle.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size:
            raise OSError(f"{info.filename}: truncated local header")
        magic, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        if magic != _LOCAL_MAGIC:
            raise OSError(f"{info.filename}: bad local header")
        handle.seek(name_length + extra_length, os.SEEK_CUR)
        # The stream zipfile itself returns: decompression, CRC check at the end.
        return zipfile.ZipExtFile(handle, "r", info, None, True)  # type: ignore[return-value]
    except BaseException:
        handle.close()
        raise


class ZipFiles:
    """One zipped package: member access for serving and for loading."""

    kind = "zip"

    def __init__(self, location: str, limits: LoadLimits = DEFAULT_LIMITS) -> None:
        self.location = location
        self.limits = limits
        self.signature: str | None = None
        self._archive: zipfile.ZipFile | None = None
        #: Whether the members were checked against ``limits`` (once, when loading).
        self._checked = False
        #: (inode, size, mtime) of the file the index was read from.
        self._identity: tuple[int, int, int] | None = None

    def __getstate__(self) -> dict[str, object]:
        """Pickled (from a loading worker) without the member index: rebuilt on demand."""
        state = dict(self.__dict__)
        state.pop("_index", None)
        state["_archive"] = None
        state["_identity"] = None
        return state

    @cached_property
    def _index(self) -> _Index:
        """The central directory, read once per catalog (and again if the file changes)."""
        try:
            with open(self.location, "rb") as handle:
                identity = _identity(os.fstat(handle.fileno()))
                with zipfile.ZipFile(handle) as archive:
                    index = _Index(self.location, archive.infolist())
        except (OSError, zipfile.BadZipFile) as exc:
            raise ReaderError(f"open {self.location}: {exc}") from None
        self._identity = identity
        return index

    # serving

    def stat(self, relpath: str) -> FileInfo | None:
        """Size and mtime of a member file of the package, else ``None``."""
        info = self._member(relpath)
        if info is None:
            return None
        return FileInfo(info.file_size, _member_mtime(info))

    def open(self, relpath: str) -> BinaryIO:
        """A stream of a member ``stat`` accepted (decompressed on the fly).

        The member is opened from its offset in the directory already read, so an
        open costs one ``open`` and one local-header read whatever the archive's size.
        """
        info = self._member(relpath)
        if info is None:
            raise FileNotFoundError(relpath)
        return _open_member(self.location, info)

    def local_path(self, relpath: str) -> str | None:
        """Members have no path of their own."""
        return None

    def _member(self, relpath: str) -> zipfile.ZipInfo | None:
        """The member to serve; the directory is read again when the file was replaced."""
        clean = safe_relpath(relpath)
        if clean is None:
            return None
        try:
            if self._identity is not None and _identity(os.stat(self.location)) != self._identity:
                self.__dict__.pop("_index", None)
            index = self._index
        except (OSError, ReaderError):
            return None  # gone or no longer a zip: nothing to serve
        return index.files.get(f"{index.root}/{clean}")

    # loading (the reference reads through Go's zip.Reader as an fs.FS)

    @property
    def _checked_index(self) -> _Index:
        """The member index, its sizes checked against the limits before the first read."""
        index = self._index
        if not self._checked:
            check_zip_members(index.files.values(), self.limits)
            self._checked = True
        return index

    def walk(self) -> list[Entry]:
        """Members below the package root, in central-directory order."""
        return self._checked_index.entries

    def read(self, name: str, limit: SizeLimit) -> bytes:
        """Read a member the way the reference opens ``path.Join(root, name)``.

        The member is inflated through a stream that stops past ``limit``, whatever size
        the archive declares.
        """
        path = self._lookup(name)
        info = self._index.files.get(path)
        if info is None:
            raise ReaderError(f"read {path}: is a directory")
        if self._archive is None:
            self._archive = zipfile.ZipFile(self.location)
        try:
            with self._archive.open(info) as stream:
                return read_bounded(stream, limit, path, info.file_size)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ReaderError(f"read {path}: {exc}") from None

    def is_dir(self, name: str) -> bool:
        """Stat a member; directories may be implied by the members below them."""
        return self._lookup(name) not in self._index.files

    def _lookup(self, name: str) -> str:
        """The member path ``zip.Reader.Open`` would look up for ``name``."""
        index = self._checked_index
        path = clean_path(f"{index.root}/{name}")
        if path.startswith("/") or path == ".." or path.startswith("../"):
            raise ReaderError(f"open {path}: invalid argument")
        if path not in index.files and path not in index.dirs:
            raise ReaderError(f"open {path}: file does not exist", not_found=True)
        return path

    def find_signature(self) -> str | None:
        """``<file>.zip.sig`` beside the archive, if it exists."""
        self.signature = signature_beside(self.location)
        return self.signature

    def close(self) -> None:
        """Close the archive loading read from."""
        if self._archive is not None:
            self._archive.close()
            self._archive = None


def load_zips(
    paths: Sequence[str],
    *,
    validate: bool = True,
    require_signatures: bool = True,
    workers: int | None = os.cpu_count(),
    limits: LoadLimits = DEFAULT_LIMITS,
    reuse: Reuse | None = None,
) -> LoadReport:
    """Load every valid ``*.zip`` file at any depth below the given package paths."""
    return load_packages(
        paths,
        _discover,
        functools.partial(ZipFiles, limits=limits),
        validate=validate,
        require_signatures=require_signatures,
        workers=workers,
        reuse=reuse,
    )


@dataclass(frozen=True, slots=True)
class SingleZip:
    """One zip file loaded on its own, with what a caller storing it may check besides."""

    #: The package, or why the registry refuses it (the reason ``load_zips`` would log).
    result: Package | Reject
    #: The folder the package root is in (``""`` when the archive has none).
    root: str = ""
    #: Member names that loading ignores for being unsafe (``..``, a leading ``/``).
    unsafe: tuple[str, ...] = ()


def load_zip(
    location: str,
    *,
    validate: bool = True,
    require_signatures: bool = True,
    limits: LoadLimits = DEFAULT_LIMITS,
) -> SingleZip:
    """Load the zip at ``location`` (its signature is ``<location>.sig``) with exactly the
    rules ``load_zips`` applies to each archive it finds."""
    reader = ZipFiles(location, limits)
    result = _load_one(location, reader, validate, require_signatures)
    try:
        index = reader._index
    except ReaderError:
        return SingleZip(result)
    return SingleZip(result, index.root, index.unsafe)


def _discover(root: str, rejects: list[Reject], reuse: Reuse | None) -> list[str]:
    """Files ending in ``.zip`` that open as archives, in ``filepath.WalkDir`` order (lexical),
    as the reference's ``FileSystemIndexer.getPackagePaths`` finds them for zips.

    With the persistent catalog, package folders it holds unchanged and that held no zip
    are not walked again, and zips it holds unchanged are not opened again.
    """
    try:
        root_stat = os.lstat(root)
    except FileNotFoundError:
        return []
    except OSError as exc:
        rejects.append(listing_failed(root, exc, "lstat"))
        return []
    if stat.S_ISDIR(root_stat.st_mode):
        try:
            files = [
                os.path.join(root, relpath)
                for relpath, entry in iter_tree(root, reuse.unchanged_folder if reuse else None)
                if not entry.is_dir(follow_symlinks=False)
            ]
        except OSError as exc:
            rejects.append(listing_failed(root, exc))
            return []
    else:
        files = [root]
    found = []
    for path in files:
        if not path.endswith(".zip"):
            continue
        if reuse is not None and reuse.unchanged_zip(path):
            found.append(os.path.normpath(path))
            continue
        try:
            zipfile.ZipFile(path).close()
        except (OSError, zipfile.BadZipFile) as exc:
            logger.warning(
                "ignoring invalid zip file", extra={"file.path": path, "error.message": str(exc)}
            )
            continue
        found.append(os.path.normpath(path))
    return found

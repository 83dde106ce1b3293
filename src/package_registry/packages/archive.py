"""Archives of unpacked packages: the ``.zip`` download and the legacy ``.tar.gz``.

The reference zips a package folder on the fly, walking it in lexical order with a
``<name>-<version>/`` top folder and directory entries; clients and the goldens see
that entry order. We write the same archive once to a file and serve it from there.
Symbolic links are never followed, so an archive holds only what is inside the package.
"""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """A file or directory of a package folder, relative to its root."""

    relpath: str
    is_dir: bool
    path: str
    size: int
    mtime: float
    mode: int


def walk_tree(root: str) -> Iterator[TreeEntry]:
    """Depth-first, each directory's entries sorted by name; links and specials skipped."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return
    yield from _walk(root, "", names)


def _walk(root: str, prefix: str, names: list[str]) -> Iterator[TreeEntry]:
    for name in names:
        path = os.path.join(root, name)
        relpath = prefix + name
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            yield TreeEntry(relpath, True, path, 0, info.st_mtime, info.st_mode)
            try:
                children = sorted(os.listdir(path))
            except OSError:
                continue
            yield from _walk(path, relpath + "/", children)
        elif stat.S_ISREG(info.st_mode):
            yield TreeEntry(relpath, False, path, info.st_size, info.st_mtime, info.st_mode)


def write_zip(root: str, top: str, out: BinaryIO) -> None:
    """Zip the folder ``root`` under ``top/`` (deflated files, directory entries kept)."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for entry in walk_tree(root):
            name = f"{top}/{entry.relpath}"
            if entry.is_dir:
                info = zipfile.ZipInfo.from_file(entry.path, name + "/")
                archive.writestr(info, b"")
            else:
                archive.write(entry.path, name)


def write_targz(root: str, top: str, out: BinaryIO) -> None:
    """The same tree as ``write_zip``, as a gzip-compressed tarball."""
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for entry in walk_tree(root):
            info = tarfile.TarInfo(f"{top}/{entry.relpath}" + ("/" if entry.is_dir else ""))
            info.mtime = int(entry.mtime)
            info.mode = stat.S_IMODE(entry.mode)
            if entry.is_dir:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
                continue
            info.size = entry.size
            with open(entry.path, "rb") as handle:
                archive.addfile(info, handle)


def zip_to_targz(zip_path: str, root: str, top: str, out: BinaryIO) -> None:
    """Re-pack the members of a zipped package under ``root/`` as a tarball under ``top/``."""
    prefix = root + "/"
    with (
        zipfile.ZipFile(zip_path) as source,
        tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as archive,
    ):
        for member in source.infolist():
            if not member.filename.startswith(prefix) or member.filename == prefix:
                continue
            relpath = member.filename[len(prefix) :]
            if relpath.startswith("/") or ".." in relpath.split("/"):
                continue
            info = tarfile.TarInfo(f"{top}/{relpath}")
            info.mtime = int(_zip_mtime(member))
            if member.is_dir():
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
                continue
            info.mode = 0o644
            info.size = member.file_size
            with source.open(member) as handle:
                archive.addfile(info, handle)


def _zip_mtime(member: zipfile.ZipInfo) -> float:
    import calendar

    return float(calendar.timegm((*member.date_time, 0, 0, 0)))

"""Archives of a package: the ``.zip`` download of folders and the legacy ``.tar.gz``.

The reference zips a package folder on the fly, in the order its walk lists entries,
with a ``<name>-<version>/`` top folder and directory entries; clients and the goldens
see that order. We write the archive once to a file and serve it from there.
Archives are reproducible: entries carry a fixed timestamp and mode instead of the
checkout's, so every replica serves the same bytes and a detached signature made of
the archive stays valid. Only what the package's reader serves goes in: links that
leave the package and unsafe zip members never do.
"""

from __future__ import annotations

import gzip
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from package_registry.packages.reader import PackageReader

#: Timestamp of every archive entry (the earliest a zip can store).
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_MTIME = 315532800  # the same instant, for tar headers
FILE_MODE = 0o644
DIR_MODE = 0o755


def _members(files: PackageReader) -> Iterator[tuple[str, int | None]]:
    """(relative path, size) of each entry in walk order; size ``None`` for directories."""
    for entry in files.walk():
        if entry.is_dir:
            yield entry.path, None
            continue
        info = files.stat(entry.path)
        if info is not None:
            yield entry.path, info.size


def write_zip(files: PackageReader, top: str, out: BinaryIO) -> None:
    """Zip the package under ``top/`` (deflated files, directory entries kept)."""
    with zipfile.ZipFile(out, "w") as archive:
        for relpath, size in _members(files):
            name = f"{top}/{relpath}" + ("/" if size is None else "")
            info = zipfile.ZipInfo(name, FIXED_DATE_TIME)
            info.create_system = 3
            if size is None:
                info.external_attr = (stat.S_IFDIR | DIR_MODE) << 16 | 0x10
                archive.writestr(info, b"")
                continue
            info.external_attr = (stat.S_IFREG | FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with files.open(relpath) as source, archive.open(info, "w") as target:
                shutil.copyfileobj(source, target, 1 << 20)


def write_targz(files: PackageReader, top: str, out: BinaryIO) -> None:
    """The same members as ``write_zip``, as a gzip-compressed tarball."""
    with (
        gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for relpath, size in _members(files):
            info = tarfile.TarInfo(f"{top}/{relpath}" + ("/" if size is None else ""))
            info.mtime = FIXED_MTIME
            if size is None:
                info.type = tarfile.DIRTYPE
                info.mode = DIR_MODE
                archive.addfile(info)
                continue
            info.mode = FILE_MODE
            info.size = size
            with files.open(relpath) as source:
                archive.addfile(info, source)

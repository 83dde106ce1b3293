"""Access to the files inside one package, wherever they are stored.

Two implementations exist: a folder on disk and a zip archive. Both answer in
package-relative POSIX paths, and both refuse any path that would leave the package:
``safe_relpath`` is the single guard every request path goes through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol

from package_registry.gopath import clean_path


@dataclass(frozen=True, slots=True)
class FileInfo:
    """Size and modification time (Unix seconds) of one regular file."""

    size: int
    mtime: float


def safe_relpath(path: str) -> str | None:
    """Return ``path`` normalised inside the package, or ``None`` if it could escape.

    Refuses absolute paths, ``..`` segments, backslashes, NUL bytes and empty names.
    """
    if not path or "\x00" in path or "\\" in path or path.startswith("/"):
        return None
    parts = path.split("/")
    if any(p in ("..",) for p in parts):
        return None
    clean = clean_path(path)
    if clean in (".", "") or clean.startswith(("../", "/")) or clean == "..":
        return None
    return clean


class PackageFiles(Protocol):
    """Read-only view of a package's files."""

    #: ``"folder"`` or ``"zip"``.
    kind: str
    #: The package folder, or the zip file.
    location: str
    #: The detached signature beside the package (``<folder>.sig`` / ``<zip>.sig``), if any.
    signature: str | None

    def stat(self, relpath: str) -> FileInfo | None:
        """Info on a regular file, or ``None`` when it is missing, a directory or unsafe."""

    def open(self, relpath: str) -> BinaryIO:
        """Open a regular file for reading (``relpath`` already checked by ``stat``)."""

    def local_path(self, relpath: str) -> str | None:
        """A real file-system path for zero-copy sending, or ``None`` (zip members)."""

"""How loading sees a package's files: entries, the reader protocol, one shared listing.

Folders and zips implement ``PackageReader`` so every loading rule applies to both alike,
and ``PackageListing`` walks a package once so each glob the reference runs reuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from package_registry.packages.errors import Invalid, ReaderError
from package_registry.packages.files import PackageFiles
from package_registry.packages.limits import LoadLimits, SizeLimit


@dataclass(frozen=True, slots=True)
class Entry:
    """One file or directory of a package, as the reference's glob reports it."""

    #: Clean path relative to the package root (what patterns are matched against).
    path: str
    #: The name the reference's glob returns (for zips the member name, unclean).
    name: str
    #: Whether it is a directory; ``None`` when only a stat can tell (a symbolic link).
    is_dir: bool | None


class PackageReader(PackageFiles, Protocol):
    """What loading needs from a package's storage, on top of serving its files."""

    #: What loading may read from the package.
    limits: LoadLimits

    def walk(self) -> list[Entry]:
        """Every entry below the root, in the reference's glob order."""

    def read(self, name: str, limit: SizeLimit) -> bytes:
        """The content of ``name``; raises ``ReaderError``, also when over ``limit``."""

    def is_dir(self, name: str) -> bool:
        """Stat ``name``, following links; raises ``ReaderError`` when that fails."""

    def find_signature(self) -> str | None:
        """Stat the ``.sig`` beside the package and remember it; raises ``ReaderError``."""

    def close(self) -> None:
        """Release what loading held open (serving needs nothing kept open)."""


class PackageListing:
    """One package's files, walked on first use and reused by every glob of its load."""

    def __init__(self, reader: PackageReader) -> None:
        self.reader = reader
        self._by_depth: dict[int, list[Entry]] | None = None
        self._by_parent: dict[str, list[Entry]] = {}

    def listing(self, pattern: str) -> dict[int, list[Entry]]:
        """The package's entries by depth (0 = top level), listed on first use.

        ``pattern`` is the glob the reference would be running, for its error message.
        """
        if self._by_depth is None:
            try:
                entries = self.reader.walk()
            except ReaderError as exc:
                raise Invalid(
                    f"failed to obtain path under package root path ({pattern}): {exc}"
                ) from None
            self._by_depth = {}
            for entry in entries:
                self._by_depth.setdefault(entry.path.count("/"), []).append(entry)
                self._by_parent.setdefault(entry.path.rpartition("/")[0], []).append(entry)
        return self._by_depth

    def children(self, directory: str) -> list[Entry]:
        """The reference's ``Glob("<directory>/*")``, in listing order."""
        self.listing(f"{directory}/*")
        return self._by_parent.get(directory, [])

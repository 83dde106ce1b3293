"""The loading steps that folder and zip sources share.

Both sources walk directory trees in the reference's lexical order, load each package
through the same manifest logic on a pool of workers, keep results in discovery order,
drop duplicate name+version pairs and spread deprecation notices. Only discovery and
file access differ between them.
"""

from __future__ import annotations

import logging
import operator
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from package_registry.packages.manifest import (
    PackageError,
    PackageReader,
    ReaderError,
    build_package,
    with_deprecation,
)
from package_registry.packages.model import Package
from package_registry.sources.base import LoadReport, Reject

logger = logging.getLogger("package_registry.sources")
_NAME = operator.attrgetter("name")


def scan_sorted(path: str) -> list[os.DirEntry[str]]:
    """Directory entries sorted by name, as Go's ``os.ReadDir`` returns them."""
    with os.scandir(path) as entries:
        return sorted(entries, key=_NAME)


def iter_tree(root: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every entry below ``root`` depth-first in lexical order, as ``filepath.WalkDir``.

    Yields ``(relative path, entry)``; symbolic links are reported, never followed.
    An unreadable directory raises ``OSError``.
    """
    stack = [("", iter(scan_sorted(root)))]
    while stack:
        prefix, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        relpath = prefix + entry.name
        yield relpath, entry
        if entry.is_dir(follow_symlinks=False):
            stack.append((relpath + "/", iter(scan_sorted(entry.path))))


def go_error_text(exc: OSError) -> str:
    """The errno text Go prints for an ``OSError`` (lower-case, as Go's table has it)."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


#: Finds the packages below one package path, in walk order; reports what it cannot list.
Discover = Callable[[str, list[Reject]], list[str]]


def load_packages(
    paths: Sequence[str],
    discover: Discover,
    reader: Callable[[str], PackageReader],
    *,
    validate: bool,
    require_signatures: bool,
    workers: int | None,
) -> LoadReport:
    """Discover and load the packages below ``paths`` (in order) and assemble the report.

    Results keep discovery order whatever order workers finish in; the first of several
    packages with the same name and version wins, and the highest deprecated version's
    notice is copied onto every version of its package.
    """
    rejects: list[Reject] = []
    found = [path for root in paths for path in discover(root, rejects)]

    def load(path: str) -> Package | Reject:
        return _load_one(path, reader(path), validate, require_signatures)

    if workers is not None and workers > 1 and len(found) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(load, found))
    else:
        results = [load(path) for path in found]

    packages: list[Package] = []
    seen: set[tuple[str, str]] = set()
    for path, result in zip(found, results, strict=True):
        if isinstance(result, Reject):
            rejects.append(result)
        elif result.key in seen:
            logger.debug("duplicated package", extra={"file.path": path})
        else:
            seen.add(result.key)
            packages.append(result)
    return LoadReport(_propagate_deprecations(packages), rejects)


def listing_failed(root: str, exc: OSError, operation: str = "open") -> Reject:
    """The reject for a package path that cannot be walked (the reference fails it whole)."""
    where = exc.filename if exc.filename is not None else root
    return Reject(
        root, f"listing packages failed (path: {root}): {operation} {where}: {go_error_text(exc)}"
    )


def signature_beside(location: str) -> str | None:
    """``<location>.sig`` if it exists; raises ``ReaderError`` when it cannot be stat'ed."""
    path = location + ".sig"
    try:
        os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ReaderError(f"can't stat signature file: stat {path}: {go_error_text(exc)}") from None
    return path


def _load_one(
    path: str, reader: PackageReader, validate: bool, require_signatures: bool
) -> Package | Reject:
    try:
        package = build_package(reader, validate=validate)
    except PackageError as exc:
        return Reject(path, f"loading package failed (path: {path}): {exc}")
    except Exception as exc:  # a package must never take the whole load down
        logger.exception("unexpected failure loading package", extra={"file.path": path})
        return Reject(path, f"loading package failed (path: {path}): {exc!r}")
    finally:
        reader.close()
    if require_signatures and "signature_path" not in package.full:
        return Reject(
            path, f"package {package.name}-{package.version} is missing a required signature file"
        )
    return package


def _propagate_deprecations(packages: list[Package]) -> list[Package]:
    """Give every version of a package the notice of its highest deprecated version."""
    latest: dict[str, Package] = {}
    for package in packages:
        if "deprecated" in package.full:
            current = latest.get(package.name)
            if current is None or package.semver > current.semver:
                latest[package.name] = package
    if not latest:
        return packages
    out = []
    for package in packages:
        source = latest.get(package.name)
        if source is None or source is package:
            out.append(package)
        else:
            out.append(with_deprecation(package, source.full["deprecated"]))
    return out

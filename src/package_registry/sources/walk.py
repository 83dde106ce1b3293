"""The loading steps that folder and zip sources share.

Both sources walk directory trees in the reference's lexical order, load each package
through the same manifest logic on a pool of workers, keep results in discovery order,
drop duplicate name+version pairs and spread deprecation notices. Only discovery and
file access differ between them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from package_registry.packages.manifest import (
    PackageError,
    PackageReader,
    build_package,
    with_deprecation,
)
from package_registry.packages.model import Package
from package_registry.sources.base import LoadReport, Reject

logger = logging.getLogger("package_registry.sources")


def scan_sorted(path: str) -> list[os.DirEntry[str]]:
    """Directory entries sorted by name, as Go's ``os.ReadDir`` returns them."""
    with os.scandir(path) as entries:
        return sorted(entries, key=lambda entry: entry.name)


def iter_tree(root: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every entry below ``root`` depth-first in lexical order, as ``filepath.WalkDir``.

    Yields ``(relative path, entry)``; symbolic links are reported, never followed.
    Raises ``OSError`` (its ``filename`` the relative path) for an unreadable directory.
    """
    stack = [("", iter(_scan(root, ".")))]
    while stack:
        prefix, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        relpath = prefix + entry.name
        yield relpath, entry
        if entry.is_dir(follow_symlinks=False):
            stack.append((relpath + "/", iter(_scan(entry.path, relpath))))


def _scan(path: str, relpath: str) -> list[os.DirEntry[str]]:
    try:
        return scan_sorted(path)
    except OSError as exc:
        exc.filename = relpath
        raise


def go_error_text(exc: OSError) -> str:
    """The errno text Go prints for an ``OSError`` (lower-case, as Go's table has it)."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def load_packages(
    candidates: Sequence[tuple[str, Callable[[], PackageReader]]],
    *,
    validate: bool,
    require_signatures: bool,
    workers: int | None,
    rejects: list[Reject],
) -> LoadReport:
    """Load every candidate ``(path, reader factory)`` and assemble the report.

    Results keep discovery order whatever order workers finish in; the first of several
    packages with the same name and version wins, and the highest deprecated version's
    notice is copied onto every version of its package.
    """

    def load(candidate: tuple[str, Callable[[], PackageReader]]) -> Package | Reject:
        path, make_reader = candidate
        return _load_one(path, make_reader, validate, require_signatures)

    if workers is not None and workers > 1 and len(candidates) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(load, candidates))
    else:
        results = [load(candidate) for candidate in candidates]

    packages: list[Package] = []
    seen: set[tuple[str, str]] = set()
    for result in results:
        if isinstance(result, Reject):
            rejects.append(result)
        elif result.key in seen:
            logger.debug(
                "duplicated package", extra={"file.path": result.files and result.files.location}
            )
        else:
            seen.add(result.key)
            packages.append(result)
    return LoadReport(_propagate_deprecations(packages), rejects)


def _load_one(
    path: str, make_reader: Callable[[], PackageReader], validate: bool, require_signatures: bool
) -> Package | Reject:
    reader = make_reader()
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

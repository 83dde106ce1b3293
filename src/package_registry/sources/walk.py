"""The loading steps that folder and zip sources share.

Both sources walk directory trees in the reference's lexical order, load each package
through the same manifest logic on a pool of workers, keep results in discovery order,
drop duplicate name+version pairs and spread deprecation notices. Only discovery and
file access differ between them.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import operator
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from package_registry.packages.errors import PackageError, ReaderError
from package_registry.packages.manifest import build_package
from package_registry.packages.model import Package
from package_registry.packages.reader import PackageReader
from package_registry.packages.records import with_deprecation
from package_registry.packages.store import StoredForm, stored_form
from package_registry.sources.base import LoadReport, Reject
from package_registry.sources.forked import load_in_processes
from package_registry.sources.reuse import Reuse

logger = logging.getLogger("package_registry.sources")
_NAME = operator.attrgetter("name")


#: Listings made while a ``shared_listings()`` block is active, by normalised path.
_listings: dict[str, list[os.DirEntry[str]]] | None = None


@contextmanager
def shared_listings() -> Iterator[None]:
    """Let one load list each directory once.

    The zip source walks whole package paths, folder packages included, and the folder
    source then lists the same directories again; inside this block the second listing
    of a directory reuses the first (once: each listing is handed out a single time).
    """
    global _listings
    outer = _listings
    _listings = {} if outer is None else outer
    try:
        yield
    finally:
        _listings = outer


def scan_sorted(path: str) -> list[os.DirEntry[str]]:
    """Directory entries sorted by name, as Go's ``os.ReadDir`` returns them."""
    listings = _listings
    if listings is not None:
        key = os.path.normpath(path)
        cached = listings.pop(key, None)
        if cached is not None:
            return cached
        with os.scandir(path) as entries:
            listing = sorted(entries, key=_NAME)
        listings[key] = listing
        return listing
    with os.scandir(path) as entries:
        return sorted(entries, key=_NAME)


def iter_tree(
    root: str, prune: Callable[[str], bool] | None = None
) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every entry below ``root`` depth-first in lexical order, as ``filepath.WalkDir``.

    Yields ``(relative path, entry)``; symbolic links are reported, never followed.
    A directory for whose path ``prune`` is true is yielded but not entered. An
    unreadable directory raises ``OSError``.
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
        if entry.is_dir(follow_symlinks=False) and (prune is None or not prune(entry.path)):
            stack.append((relpath + "/", iter(scan_sorted(entry.path))))


def go_error_text(exc: OSError) -> str:
    """The errno text Go prints for an ``OSError`` (lower-case, as Go's table has it)."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


#: Finds the packages below one package path, in walk order; reports what it cannot list.
#: With the persistent catalog, ``Reuse`` lets it skip what is known unchanged.
Discover = Callable[[str, list[Reject], "Reuse | None"], list[str]]


def load_packages(
    paths: Sequence[str],
    discover: Discover,
    reader: Callable[[str], PackageReader],
    *,
    validate: bool,
    require_signatures: bool,
    workers: int | None,
    reuse: Reuse | None = None,
) -> LoadReport:
    """Discover and load the packages below ``paths`` (in order) and assemble the report.

    Results keep discovery order whatever order workers finish in; the first of several
    packages with the same name and version wins, and the highest deprecated version's
    notice is copied onto every version of its package. With ``reuse`` (the persistent
    catalog), unchanged packages are taken from it and only the others are loaded.
    """
    with paused_gc():
        rejects: list[Reject] = []
        found = [path for root in paths for path in discover(root, rejects, reuse)]
        if reuse is None:
            results = _load_all(found, reader, validate, require_signatures, workers or 1)
        else:
            results = _load_reusing(found, reader, validate, require_signatures, workers, reuse)

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


def _load_reusing(
    found: list[str],
    reader: Callable[[str], PackageReader],
    validate: bool,
    require_signatures: bool,
    workers: int | None,
    reuse: Reuse,
) -> list[Package | Reject]:
    """``_load_all`` for the packages ``reuse`` does not know unchanged; the new ones are
    rendered for storing where they are loaded."""
    prints = reuse.fingerprints(found)
    results = [
        reuse.known(path, print_, reader) for path, print_ in zip(found, prints, strict=True)
    ]
    todo = [i for i, result in enumerate(results) if result is None]
    if todo:
        loaded = _load_all(
            [found[i] for i in todo], reader, validate, require_signatures, workers or 1, True
        )
        fresh = reuse.loaded(
            [(found[i], prints[i], result) for i, result in zip(todo, loaded, strict=True)],
            reader,
        )
        for i, result in zip(todo, fresh, strict=True):
            results[i] = result
    return results  # type: ignore[return-value]


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection while loading.

    Loading allocates millions of long-lived, acyclic objects; each generation-2 pass
    would rescan all of them for nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: Below this many packages, forking worker processes costs more than it saves.
PROCESS_POOL_MIN_PACKAGES = 200

_Result = Package | Reject


def _load_all(
    found: list[str],
    reader: Callable[[str], PackageReader],
    validate: bool,
    require_signatures: bool,
    workers: int,
    to_store: bool = False,
) -> list[Any]:
    """Load ``found`` in order: in forked processes when it pays, else threads or inline.

    Threads only interleave (the work holds the GIL), so processes are the way to use
    more cores; they need ``fork`` and a process with no other thread running. With
    ``to_store``, each package comes back as its ``StoredForm``.
    """

    def load(path: str) -> _Result | StoredForm:
        result = _load_one(path, reader(path), validate, require_signatures)
        if not to_store or isinstance(result, Reject):
            return result
        try:
            return stored_form(result)
        except ValueError as exc:
            return Reject(path, f"loading package failed (path: {path}): {exc}")

    if workers <= 1 or len(found) < PROCESS_POOL_MIN_PACKAGES:
        return [load(path) for path in found]  # threads would only add GIL contention
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        try:
            return load_in_processes(found, load, _loader_died, workers)
        except Exception:  # a broken pool must not fail the load: do it here instead
            logger.warning("worker processes failed, loading in-process", exc_info=True)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(load, found))


def _loader_died(path: str, cause: str) -> Reject:
    return Reject(
        path,
        f"loading package failed (path: {path}): the process loading it died ({cause}), twice",
    )


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
        if package.deprecated is not None:
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
            out.append(with_deprecation(package, source.deprecated))
    return out

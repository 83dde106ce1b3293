"""A corpus of local packages written out as a Package Storage v2 bucket.

The storage indexer (``sources/storage.py``) reads ``v2/metadata/cursor.json``, the
revision folder it names and, with incremental updates, that folder's delta; the storage
endpoint serves ``artifacts/packages/<name>-<version>.zip`` (and ``.zip.sig``) and the
package files under ``artifacts/static/<name>-<version>/``. ``export_bucket`` writes all
of that into one folder, which can be served as ``file://`` or uploaded as is to Cloud
Storage or S3.

The output is deterministic and written only where it changes (through the static
format's ``Tree``, so an unchanged corpus rewrites no file): zips are the registry's own
reproducible archives (a zip package is copied as it is), the index lists packages by
name then version, and revisions are numbered. A build whose index equals the current
revision's adds no revision; otherwise the new revision holds the full index and the
delta from the previous one, and the cursor moves last, so a registry polling the
bucket never sees a revision half written. Earlier revisions and the
artifacts of removed versions stay: a registry may still be reading them.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from package_registry.build.static import Tree, progress_bar
from package_registry.loading import LoadOutcome
from package_registry.packages.archive import write_zip
from package_registry.packages.files import safe_relpath
from package_registry.packages.model import Package
from package_registry.sources.base import Reject

if TYPE_CHECKING:
    from package_registry.build.command import BuildJob

__all__ = ["HELP", "BucketError", "BucketSummary", "add_options", "export_bucket", "run"]

HELP = "a Package Storage v2 bucket (index revisions, zips, signatures, files)"

METADATA = "v2/metadata"
INDEX_FILE = "search-index-all.json"
DELTA_FILE = "search-index-delta.json"
#: Digits of a revision name: revisions are compared as strings, so they keep one width
#: (that of a Unix timestamp, the reference's own revision names).
REVISION_WIDTH = 10

#: Called with each package once its files are written.
Progress = Callable[[Package], None]


class BucketError(Exception):
    """The output folder holds a bucket this tool cannot continue; ``str`` says why."""


@dataclass(frozen=True, slots=True)
class BucketSummary:
    """What one export did."""

    packages: int
    rejects: list[Reject]
    #: The current revision after the export.
    revision: str
    #: Whether this export added ``revision`` (``False``: the index was unchanged).
    new_revision: bool
    #: Files written (new or changed); unchanged files are left alone.
    written: int


def export_bucket(
    outcome: LoadOutcome, output: str | Path, *, progress: Progress | None = None
) -> BucketSummary:
    """Write the packages of ``outcome`` (local zips and folders, loaded as the registry
    loads them) as a Package Storage v2 bucket in ``output``.

    Invalid packages are already left out of ``outcome``, as the registry leaves them
    out; the summary lists them (failing on them is the caller's choice). Raises
    ``BucketError`` for an output this tool did not write, ``OSError`` when writing fails.
    """
    packages = _merged(outcome.sources)
    root = Path(output)
    tree = Tree(str(root))
    previous = _current_revision(root)
    for package in packages:
        _write_artifacts(tree, package)
        if progress is not None:
            progress(package)
    index = _render({"packages": [{"package_manifest": p.full} for p in packages]})
    if previous is not None and _read(root, previous, INDEX_FILE) == index:
        return BucketSummary(len(packages), outcome.rejects, previous, False, tree.counts.written)
    revision = _next_revision(previous)
    tree.put(f"{METADATA}/{revision}/{INDEX_FILE}", index)
    if previous is not None:
        delta = _delta(_entries(root, previous), packages)
        tree.put(f"{METADATA}/{revision}/{DELTA_FILE}", delta)
    tree.put(f"{METADATA}/cursor.json", _render({"current": revision}))
    return BucketSummary(len(packages), outcome.rejects, revision, True, tree.counts.written)


def _merged(sources: Sequence[Sequence[Package]]) -> list[Package]:
    """One list from the sources in precedence order (the first holding a version wins,
    as the registry serves it), by name then version."""
    chosen: dict[tuple[str, str], Package] = {}
    for source in sources:
        for package in source:
            chosen.setdefault(package.key, package)
    return sorted(chosen.values(), key=lambda p: (p.name, p.semver, p.version))


def _write_artifacts(tree: Tree, package: Package) -> None:
    """The zip, its signature when the package has one, and every file for the static
    routes with its source's modification time, which the endpoint sends as
    ``Last-Modified`` (files gone from a rebuilt version are removed)."""
    files = package.files
    assert files is not None  # local packages always have their files
    top = f"{package.name}-{package.version}"
    if "/" in top or safe_relpath(top) != top:  # names are checked at load; never trusted
        raise BucketError(f"package name {package.name!r} cannot name a file")
    if files.kind == "zip":
        tree.put_built(f"artifacts/packages/{top}.zip", functools.partial(_copy, files.location))
    else:
        build = functools.partial(write_zip, files, top)  # local files are readers
        tree.put_built(f"artifacts/packages/{top}.zip", build)  # type: ignore[arg-type]
    signature = files.signature or files.location + ".sig"
    if os.path.isfile(signature):
        tree.put_built(f"artifacts/packages/{top}.zip.sig", functools.partial(_copy, signature))
    else:
        tree.remove(f"artifacts/packages/{top}.zip.sig")
    static = f"artifacts/static/{top}"
    kept = set()
    for entry in files.walk():  # type: ignore[attr-defined]
        info = None if entry.is_dir else files.stat(entry.path)
        if info is None:
            continue
        with files.open(entry.path) as handle:
            tree.put(f"{static}/{entry.path}", handle.read(), info.mtime)
        kept.add(entry.path)
    base = Path(tree.path(static))
    for path in sorted(base.rglob("*")):
        relative = path.relative_to(base).as_posix()
        if not path.is_dir() and relative not in kept:
            tree.remove(f"{static}/{relative}")


def _copy(source: str, out: BinaryIO) -> None:
    with open(source, "rb") as handle:
        shutil.copyfileobj(handle, out, 1 << 20)


def _delta(before: dict[tuple[str, str], dict[str, Any]], packages: list[Package]) -> bytes:
    """The changes from the manifests ``before`` to ``packages``, in the layout the
    incremental loader applies: added, updated (same version, other document), removed."""
    now = {package.key: package for package in packages}
    added = [{"package_manifest": p.full} for key, p in now.items() if key not in before]
    updated = [
        {"package_manifest": p.full}
        for key, p in now.items()
        if key in before and _render(before[key]) != _render(p.full)
    ]
    removed = [
        {"name": name, "version": version} for name, version in before if (name, version) not in now
    ]
    return _render({"added": added, "updated": updated, "removed": removed})


def _entries(root: Path, revision: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The manifests of a revision's index by name and version."""
    try:
        entries = orjson.loads(_read(root, revision, INDEX_FILE))["packages"]
        manifests = [entry["package_manifest"] for entry in entries]
        return {(m["name"], m["version"]): m for m in manifests}
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise BucketError(f"cannot read the index of revision {revision}: {exc!r}") from None


def _current_revision(root: Path) -> str | None:
    """The revision ``cursor.json`` names; ``None`` for a new bucket."""
    try:
        data = (root / METADATA / "cursor.json").read_bytes()
    except FileNotFoundError:
        return None
    try:
        current = orjson.loads(data).get("current")
    except (orjson.JSONDecodeError, AttributeError):
        current = None
    if not isinstance(current, str) or not current.isdigit():
        raise BucketError(f"{root / METADATA / 'cursor.json'}: expected a numbered revision")
    return current


def _next_revision(previous: str | None) -> str:
    """The revision after ``previous``, of the same width (so it also sorts after it)."""
    number = int(previous) + 1 if previous is not None else 1
    return str(number).zfill(len(previous) if previous is not None else REVISION_WIDTH)


def _read(root: Path, revision: str, name: str) -> bytes:
    try:
        return (root / METADATA / revision / name).read_bytes()
    except OSError as exc:
        raise BucketError(f"cannot read revision {revision}: {exc}") from None


def _render(document: Any) -> bytes:
    return orjson.dumps(document)


def add_options(group: argparse._ArgumentGroup) -> None:
    """The bucket format has no options of its own."""


def run(job: BuildJob) -> int:
    """``--format bucket``: ``export_bucket`` with a progress bar on a terminal, then one
    summary line on stderr; returns the exit status."""
    started = time.monotonic()
    output, outcome = job.output, job.outcome
    total = len({package.key for source in outcome.sources for package in source})
    try:
        with progress_bar(total, job.interactive) as progress:
            summary = export_bucket(outcome, output, progress=progress)
    except (BucketError, OSError) as err:
        print(f"package-registry build: {output}: {err}", file=sys.stderr)
        return 1
    revision = f"revision {summary.revision}" + (" (new)" if summary.new_revision else "")
    print(
        f"bucket {output}: {summary.packages} packages, {len(summary.rejects)} invalid, "
        f"{revision}, {summary.written} files written "
        f"in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0

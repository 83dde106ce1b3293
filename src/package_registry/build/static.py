"""The static format: every answer without query parameters, as a file named by its URL.

A URL ending in ``/`` is the ``index.json`` inside its folder (``/`` itself is
``index.json``, ``/package/{name}/{version}/`` is ``package/{name}/{version}/index.json``);
every other file's path is its URL path: ``favicon.ico``, ``openapi.json``, each file
inside each package (``package/{name}/{version}/{file}``), and the downloads
``epr/{name}/{name}-{version}.zip``, ``.zip.sig`` and ``.tar.gz``. The default answers
of the two query routes are there too (``search/index.json``, ``categories/index.json``),
with an ``nginx.conf`` that serves the tree and forwards queries to a running registry.

The bytes are the server's: written by the same functions (``render_json``, the query
layer, ``packages.archive``'s reproducible archives), so each file equals the answer.
Package files keep their source's modification time, which the server sends as
``Last-Modified``.

Building is incremental. ``STATE_FILE`` records, per package, a fingerprint of its
source (every entry's path, size and time, and its signature's) and the files written
for it: an unchanged package is not looked at again; a changed one is rewritten file by
file, each file replaced (temp file, then rename) only when its bytes differ; the files
of packages gone since the last build are deleted.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from package_registry import __version__
from package_registry.build.nginx import nginx_conf, registry_address
from package_registry.catalog.build import build_catalog
from package_registry.catalog.snapshot import Catalog
from package_registry.packages.archive import write_targz, write_zip
from package_registry.packages.files import safe_relpath
from package_registry.packages.model import Package
from package_registry.packages.render import render_json
from package_registry.queries.categories import categories
from package_registry.queries.params import parse_categories_query, parse_search_query
from package_registry.queries.search import search
from package_registry.web.archives import fingerprint
from package_registry.web.mime import content_type_for, needs_sniffing
from package_registry.web.request import CacheTimes
from package_registry.web.routes.info import FAVICON, OPENAPI, service_index

if TYPE_CHECKING:
    from package_registry.build.command import BuildJob

HELP = "a tree of files named by their URL paths, and an nginx.conf serving it"
#: What the last build wrote, for the next one (not served: no route names it).
STATE_FILE = ".package-registry-build.json"
NGINX_CONF = "nginx.conf"
#: Changes when the layout or the writers change: every package is then rebuilt.
STATE_FORMAT = f"1 {__version__}"
#: Bytes content types are sniffed from, as the server does.
SNIFF_BYTES = 512

log = logging.getLogger("package_registry.build")


def add_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--registry-url",
        default="http://127.0.0.1:8080",
        metavar="URL",
        help="the running registry nginx.conf forwards /search and /categories queries to "
        "(default: %(default)s)",
    )


@dataclass
class Counts:
    """What a build did, for the summary line."""

    written: int = 0
    unchanged: int = 0
    removed: int = 0


class Tree:
    """The output folder; a file is replaced (temp file, then rename) only when its
    bytes differ, so readers never see half a file and unchanged files keep their
    inode and time."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.counts = Counts()

    def path(self, relpath: str) -> str:
        return os.path.join(self.root, *relpath.split("/"))

    def put(self, relpath: str, data: bytes, mtime: float | None = None) -> None:
        """``relpath`` holds ``data`` (and, when given, modification time ``mtime``)."""
        path = self.path(relpath)
        try:
            if os.path.getsize(path) == len(data):
                with open(path, "rb") as handle:
                    if handle.read() == data:
                        self._unchanged(path, mtime)
                        return
        except OSError:
            pass
        self._write(path, lambda out: out.write(data), mtime)

    def put_built(
        self, relpath: str, build: Callable[[BinaryIO], object], mtime: float | None = None
    ) -> None:
        """``relpath`` holds what ``build`` writes; built beside it, kept only if new."""
        path = self.path(relpath)
        self._write(path, build, mtime, compare=os.path.isfile(path))

    def _unchanged(self, path: str, mtime: float | None) -> None:
        self.counts.unchanged += 1
        if mtime is not None and int(os.stat(path).st_mtime) != int(mtime):
            os.utime(path, (mtime, mtime))

    def _write(
        self,
        path: str,
        build: Callable[[BinaryIO], object],
        mtime: float | None,
        compare: bool = False,
    ) -> None:
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=directory, prefix=".", suffix=".partial")
        try:
            os.fchmod(fd, 0o644)  # served by other users (web servers' workers)
            with os.fdopen(fd, "wb") as out:
                build(out)
            if compare and _same_bytes(partial, path):
                os.unlink(partial)
                self._unchanged(path, mtime)
                return
            if mtime is not None:
                os.utime(partial, (mtime, mtime))
            os.replace(partial, path)
        except BaseException:
            if os.path.exists(partial):
                os.unlink(partial)
            raise
        self.counts.written += 1

    def remove(self, relpath: str) -> None:
        """Delete a file no longer built, and the folders it leaves empty."""
        path = self.path(relpath)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        self.counts.removed += 1
        directory = os.path.dirname(path)
        while os.path.abspath(directory) != os.path.abspath(self.root):
            try:
                os.rmdir(directory)
            except OSError:
                break
            directory = os.path.dirname(directory)


def _same_bytes(left: str, right: str) -> bool:
    if os.path.getsize(left) != os.path.getsize(right):
        return False
    with open(left, "rb") as a, open(right, "rb") as b:
        while True:
            chunk = a.read(1 << 20)
            if chunk != b.read(1 << 20):
                return False
            if not chunk:
                return True


@dataclass
class Built:
    """The record of one package in ``STATE_FILE``."""

    fingerprint: str
    files: list[str] = field(default_factory=list)
    #: Content types the server sniffs (files whose extension does not tell), by file.
    sniffed: dict[str, str] = field(default_factory=dict)


def source_fingerprint(package: Package) -> str:
    """What the package's files depend on: its source's entries and its signature."""
    files = package.files
    assert files is not None
    digest = hashlib.sha256(os.fsencode(f"{STATE_FORMAT}\0{files.kind}\0{files.location}\0"))
    digest.update(fingerprint(files.location).encode())
    try:
        info = os.stat(_signature_path(package))
        digest.update(b"s %d %d" % (info.st_size, info.st_mtime_ns))
    except OSError:
        digest.update(b"-")
    return digest.hexdigest()[:32]


def _signature_path(package: Package) -> str:
    files = package.files
    assert files is not None
    return files.signature or files.location + ".sig"


def _copy_file(path: str, out: BinaryIO) -> None:
    with open(path, "rb") as source:
        shutil.copyfileobj(source, out, 1 << 20)


def write_package(tree: Tree, package: Package, fingerprint: str) -> Built:
    """Every file of one package's URLs: its document, its files and its downloads."""
    files = package.files
    assert files is not None
    built = Built(fingerprint)
    base = f"package/{package.name}/{package.version}"
    document = f"{base}/index.json"
    tree.put(document, render_json(package.full))
    built.files.append(document)
    for entry in files.walk():
        inside = safe_relpath(entry.path)
        info = None if inside is None else files.stat(inside)
        if inside is None or info is None:  # a directory, or nothing the server serves
            continue
        relpath = f"{base}/{inside}"
        if relpath == document:
            log.warning(
                "package file index.json left out: its URL is the package document's file",
                extra={"package.name": package.name, "package.version": package.version},
            )
            continue
        with files.open(inside) as source:
            head = source.read(SNIFF_BYTES)

            def copy(out: BinaryIO, head: bytes = head, source: BinaryIO = source) -> None:
                out.write(head)
                shutil.copyfileobj(source, out, 1 << 20)

            tree.put_built(relpath, copy, info.mtime)
        built.files.append(relpath)
        if needs_sniffing(inside):
            built.sniffed[relpath] = content_type_for(inside, head)
    top = f"{package.name}-{package.version}"
    download = f"epr/{package.name}/{top}"
    if files.kind == "zip":
        mtime = os.stat(files.location).st_mtime
        tree.put_built(f"{download}.zip", functools.partial(_copy_file, files.location), mtime)
    else:
        tree.put_built(f"{download}.zip", functools.partial(write_zip, files, top))
    built.files.append(f"{download}.zip")
    signature = _signature_path(package)
    if os.path.isfile(signature):
        mtime = os.stat(signature).st_mtime
        tree.put_built(f"{download}.zip.sig", functools.partial(_copy_file, signature), mtime)
        built.files.append(f"{download}.zip.sig")
    tree.put_built(f"{download}.tar.gz", functools.partial(write_targz, files, top))
    built.files.append(f"{download}.tar.gz")
    return built


def _read_state(root: str) -> dict[str, Built]:
    """The packages recorded by the previous build (none if unreadable or older)."""
    try:
        with open(os.path.join(root, STATE_FILE), "rb") as handle:
            state = json.load(handle)
        if state.get("format") != STATE_FORMAT:
            return {key: Built("", files) for key, files in state.get("files", {}).items()}
        return {key: Built(**record) for key, record in state["packages"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _write_state(tree: Tree, packages: dict[str, Built], globals_: list[str]) -> None:
    files = {key: built.files for key, built in packages.items()}
    files[""] = globals_
    state = {
        "format": STATE_FORMAT,
        "packages": {key: vars(built) for key, built in packages.items()},
        "files": files,
    }
    tree.put(STATE_FILE, json.dumps(state, sort_keys=True, indent=1).encode())


@dataclass(frozen=True, slots=True)
class Summary:
    """The one line a build ends with (after the progress bar, or alone)."""

    packages: int
    invalid: int
    counts: Counts
    files: int
    size: int
    seconds: float

    def line(self, output: str) -> str:
        c = self.counts
        return (
            f"static tree {output}: {self.packages} packages ({self.invalid} invalid), "
            f"{self.files} files, {_megabytes(self.size)}; {c.written} written, "
            f"{c.unchanged} unchanged, {c.removed} removed in {self.seconds:.1f} s"
        )


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def build_static(
    catalog: Catalog,
    output: str,
    *,
    service_name: str,
    cache_times: CacheTimes,
    registry_url: str,
    progress: Callable[[Package], None] = lambda _: None,
) -> tuple[Counts, list[str]]:
    """Write (or bring up to date) the static tree of ``catalog`` in ``output``;
    returns what was done and every file of the tree."""
    tree = Tree(output)
    os.makedirs(output, exist_ok=True)
    previous = _read_state(output)
    current: dict[str, Built] = {}
    for package in catalog.packages():
        key = f"{package.name}/{package.version}"
        digest = source_fingerprint(package)
        old = previous.get(key)
        if (
            old is not None
            and old.fingerprint == digest
            and all(os.path.isfile(tree.path(f)) for f in old.files)
        ):
            current[key] = old
            tree.counts.unchanged += len(old.files)
        else:
            current[key] = write_package(tree, package, digest)
        progress(package)
    globals_ = [
        "index.json",
        "favicon.ico",
        "openapi.json",
        "search/index.json",
        "categories/index.json",
    ]
    tree.put("index.json", service_index(service_name, __version__))
    tree.put("favicon.ico", FAVICON)
    tree.put("openapi.json", OPENAPI)
    tree.put("search/index.json", search(catalog, parse_search_query("", True)))
    tree.put("categories/index.json", categories(catalog, parse_categories_query("", True)))
    sniffed = {f: t for built in current.values() for f, t in built.sniffed.items()}
    conf = nginx_conf(os.path.abspath(output), cache_times, registry_url, sniffed)
    tree.put(NGINX_CONF, conf.encode())
    globals_.append(NGINX_CONF)
    kept = {f for built in current.values() for f in built.files} | set(globals_)
    for built in previous.values():
        for relpath in built.files:
            if relpath not in kept:
                tree.remove(relpath)
    counts = dataclasses.replace(tree.counts)  # the state file is bookkeeping, not counted
    _write_state(tree, current, globals_)
    return counts, sorted(kept)


@contextmanager
def progress_bar(total: int, interactive: bool) -> Iterator[Callable[[Package], None]]:
    """A rich progress bar on a terminal; nothing otherwise (the summary line follows).
    Every format shows its progress with it."""
    if not interactive:
        yield lambda _: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("building"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("", total=total)
        yield lambda package: bar.update(
            task, advance=1, description=f"{package.name} {package.version}"
        )


def run(job: BuildJob) -> int:
    """``--format static``."""
    try:
        registry_address(job.options.registry_url)
    except ValueError as err:
        print(f"package-registry build: --registry-url: {err}", file=sys.stderr)
        return 2
    started = time.monotonic()
    catalog = build_catalog(job.outcome.sources)
    settings = job.settings
    cache_times = CacheTimes(
        index=settings.cache_time_index,
        search=settings.cache_time_search,
        categories=settings.cache_time_categories,
        catch_all=settings.cache_time_catch_all,
    )
    service_name = os.environ.get("ELASTIC_APM_SERVICE_NAME") or "package-registry"
    try:
        with progress_bar(len(catalog), job.interactive) as progress:
            counts, files = build_static(
                catalog,
                job.output,
                service_name=service_name,
                cache_times=cache_times,
                registry_url=job.options.registry_url,
                progress=progress,
            )
    except OSError as err:
        print(f"package-registry build: writing {job.output} failed: {err}", file=sys.stderr)
        return 1
    size = sum(os.path.getsize(os.path.join(job.output, *f.split("/"))) for f in files)
    summary = Summary(
        len(catalog),
        len(job.outcome.rejects),
        counts,
        len(files),
        size,
        time.monotonic() - started,
    )
    print(summary.line(job.output), file=sys.stderr)
    return 0

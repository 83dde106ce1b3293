"""Scale: memory, start-up, restart, reload and query speed of a real registry by corpus size.

Usage::

    .venv/bin/python bench/scale.py [--sizes 2000,10000,20000] [--packages 160]
                                    [--work /tmp/scale-corpora] [--workers 2]
                                    [--restarts 3] [--reloads 3] [--queries 300]
                                    [--catalog disk|memory] [--no-reload] [--no-floor]
                                    [--json FILE] [--prepare]

For each size N (versions), a corpus of ``bench/make_corpus.py --packages 160 --versions
N --zip-fraction 0.1 --seed 1`` is generated once into ``--work``/N and reused by later
runs (20,000 versions take about 20 s and 1.3 GB; 50,000 about 3.3 GB); ``--prepare``
only does that, so that a run under ``flock`` does not hold the lock while writing files.
Every registry is ``.venv/bin/package-registry`` on a free loopback port with
``-workers`` processes, ``-require-package-signatures=false`` and ``-log-level=warn``, in
its own process group, which is stopped (SIGTERM, then SIGKILL) after each run. Measured
per size:

* **floor**: one fresh interpreter walking the corpus and parsing every manifest with
  libyaml (``bench/startup.py``'s ``floor``), after an untimed pass that warms the page
  cache;
* **first start**: launch to ``/health`` answering 200 and to ``/search`` answering 200,
  with an empty catalog folder;
* **restart**: the same, ``--restarts`` times over the unchanged corpus and the same
  catalog folder (median);
* **memory**: total PSS (``/proc/<pid>/smaps_rollup``) of every process of the registry's
  session — parent, workers and any helper — once started and after a mixed load, for the
  first start and the last restart; and the catalog folder's size after the first start;
* **queries** (same two runs): p50/p99 of ``--queries`` distinct ``kibana.version``
  searches (each value new, so no answer cache hit), one after the other on a keep-alive
  connection, then the first ``/search?all=true&prerelease=true``; then the mixed load
  over two connections: categories, searches by category and package, other distinct
  ``kibana.version`` values, package documents of random versions and a few downloads;
* **reload** (``-package-paths-enable-watcher``, same catalog folder): the time from
  changing one package to ``/search?package=<name>&all=true&prerelease=true`` showing the
  change, ``--reloads`` times each for a changed description (a version's
  ``manifest.yml`` replaced) and for a new version folder (moved in whole); one unmeasured
  change first proves the watcher is running. The corpus is restored afterwards (a
  ``N.dirty`` marker beside it makes the next run regenerate it if that was interrupted).

The catalog folder: when ``package-registry -help`` lists ``-catalog-path``, every run of
one size gets ``-catalog-path=<temporary folder>`` (``--catalog memory``:
``-catalog-path=:memory:``), removed at the end; builds without the flag keep their
catalog in memory and run without it, so first start and restart measure the same thing.

Results are printed as markdown tables; ``--json FILE`` also writes every run's figures.
One benchmark at a time on a shared machine: ``flock /tmp/bench.lock make bench-scale``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXECUTABLE = ROOT / ".venv" / "bin" / "package-registry"
sys.path.insert(0, str(HERE))

import make_corpus  # noqa: E402
import startup  # noqa: E402

PACKAGES = 160
ZIP_FRACTION = 0.1
SEED = 1
#: Longest wait for a registry to answer after launch, and for a reload to show.
START_TIMEOUT = 600.0
RELOAD_TIMEOUT = 300.0
#: Fields of smaps_rollup kept per process (kB in the file).
ROLLUP_FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem", "Private_Dirty")

# --------------------------------------------------------------------------- pure helpers


def parse_rollup(text: str) -> dict[str, int]:
    """The ``ROLLUP_FIELDS`` of a ``/proc/<pid>/smaps_rollup`` text, in KiB (absent: 0)."""
    values = dict.fromkeys(ROLLUP_FIELDS, 0)
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in values:
            values[key] = int(rest.split()[0])
    return values


def parse_stat(text: str) -> tuple[int, int]:
    """(parent pid, session id) from a ``/proc/<pid>/stat`` line.

    The command name (field 2) is in parentheses and may itself hold spaces or
    parentheses, so fields are counted after its last ``)``.
    """
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[3])


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 300 values is the 297th smallest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table; columns after the first are right-aligned (they hold figures)."""
    align = ["---"] + ["---:"] * (len(headers) - 1)
    lines = [headers, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def has_catalog_flag(help_text: str) -> bool:
    """Whether ``package-registry -help`` lists the persistent catalog's flag."""
    return any(line.split()[:1] == ["-catalog-path"] for line in help_text.splitlines())


def log_message(line: str) -> str:
    """The ``message`` of an ECS JSON log line; another line as it is."""
    with contextlib.suppress(ValueError, TypeError, KeyError):
        return str(json.loads(line)["message"])
    return line.strip()


def mib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:,.0f}"


def secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def msecs(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def median_or_none(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if len(present) == len(values) and present else None


# --------------------------------------------------------------------------- processes


@dataclass
class ProcessMemory:
    pid: int
    ppid: int
    memory: dict[str, int]


def session_memory(session: int) -> list[ProcessMemory]:
    """smaps_rollup of every live process of ``session`` (the registry's own session,
    so forked workers and helpers count even if re-parented)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid, sid = parse_stat(stat.read())
            if sid != session:
                continue
            with open(f"/proc/{entry}/smaps_rollup") as rollup:
                found.append(ProcessMemory(int(entry), ppid, parse_rollup(rollup.read())))
        except (OSError, ValueError):  # gone meanwhile, or a zombie without mappings
            continue
    return sorted(found, key=lambda p: p.pid)


def memory_summary(processes: list[ProcessMemory], leader: int) -> dict[str, object]:
    total = {key: sum(p.memory[key] for p in processes) for key in ROLLUP_FIELDS}
    return {
        "processes": len(processes),
        "pss_kib": total["Pss"],
        "parent_pss_kib": sum(p.memory["Pss"] for p in processes if p.pid == leader),
        "total_kib": total,
        "per_process": [{"pid": p.pid, "ppid": p.ppid, **p.memory} for p in processes],
    }


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` (the persistent catalog's size on disk)."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environment() -> dict[str, str]:
    """This environment without ``EPR_*`` settings, which would change what is measured."""
    return {k: v for k, v in os.environ.items() if not k.startswith("EPR_")}


def registry_help() -> str:
    out = subprocess.run(
        [str(EXECUTABLE), "-help"],
        capture_output=True,
        text=True,
        env=clean_environment(),
        check=False,
    )
    return out.stdout + out.stderr


class RegistryFailed(RuntimeError):
    pass


class ReloadUnavailable(RegistryFailed):
    """The registry says it stopped watching its package paths (say, out of inotify
    watches: one per folder, ``fs.inotify.max_user_watches`` in all)."""


#: What the registry logs when its watcher gives up.
WATCHER_GAVE_UP = "package paths are no longer watched"


class Registry:
    """One registry process group on a free port; ``stop`` ends the whole group."""

    def __init__(
        self,
        corpus: Path,
        scratch: Path,
        workers: int,
        catalog: str | None,
        watcher: bool = False,
    ) -> None:
        self.port = free_port()
        self.address = ("127.0.0.1", self.port)
        config = scratch / "config.yml"
        config.write_text(f"package_paths:\n  - {json.dumps(str(corpus))}\n")
        args = [
            str(EXECUTABLE),
            f"-config={config}",
            f"-address=127.0.0.1:{self.port}",
            f"-workers={workers}",
            "-require-package-signatures=false",
            "-log-level=warn",
        ]
        if catalog is not None:
            args.append(f"-catalog-path={catalog}")
        if watcher:
            args.append("-package-paths-enable-watcher")
        self.workers = workers
        self.log_path = scratch / f"registry-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed by stop)
        self.launched = time.perf_counter()
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=clean_environment(),
        )

    def connection(self, timeout: float = 60.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(*self.address, timeout=timeout)

    def status(self, path: str) -> int:
        """Status of one GET on a new connection, 0 when the connection fails."""
        conn = self.connection(timeout=START_TIMEOUT)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            return response.status
        except OSError:
            return 0
        finally:
            conn.close()

    def failure(self, what: str) -> RegistryFailed:
        self._log.flush()
        tail = self.log_path.read_text(errors="replace")[-3000:]
        return RegistryFailed(f"{what}; registry log ({self.log_path}):\n{tail}")

    def wait_ready(self) -> tuple[float, float]:
        """Seconds from launch to ``/health`` 200, and to ``/search`` 200."""
        healthy = None
        while True:
            if self.process.poll() is not None:
                raise self.failure(f"registry exited with status {self.process.returncode}")
            if time.perf_counter() - self.launched > START_TIMEOUT:
                raise self.failure(f"registry not ready after {START_TIMEOUT:.0f} s")
            path = "/health" if healthy is None else "/search"
            if self.status(path) == 200:
                elapsed = time.perf_counter() - self.launched
                if healthy is not None:
                    return healthy, elapsed
                healthy = elapsed
            else:
                time.sleep(0.01)

    def wait_workers(self, timeout: float = 30.0) -> None:
        """Until the parent and its ``workers`` forked workers all exist."""
        deadline = time.monotonic() + timeout
        while len(session_memory(self.process.pid)) < self.workers + (self.workers > 1):
            if time.monotonic() > deadline:
                raise self.failure("workers did not start")
            time.sleep(0.05)
        time.sleep(0.5)

    def log_message(self, text: str) -> str | None:
        """The message of the first line of the registry's log holding ``text``."""
        self._log.flush()
        with open(self.log_path, errors="replace") as log:
            return next((log_message(line) for line in log if text in line), None)

    def memory(self) -> dict[str, object]:
        return memory_summary(session_memory(self.process.pid), self.process.pid)

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL after a minute, then wait until none is left."""
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(60)
        deadline = time.monotonic() + 30
        while session_memory(group) or self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            if time.monotonic() > deadline:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(0.1)
        self._log.close()


@contextlib.contextmanager
def running(
    corpus: Path, scratch: Path, workers: int, catalog: str | None, watcher: bool = False
) -> Iterator[Registry]:
    registry = Registry(corpus, scratch, workers, catalog, watcher)
    try:
        yield registry
    finally:
        registry.stop()


# --------------------------------------------------------------------------- load


def get(conn: http.client.HTTPConnection, path: str) -> tuple[float, bytes]:
    """Time one GET on ``conn``; anything but 200 is an error of the benchmark run."""
    began = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - began
    if response.status != 200:
        raise RegistryFailed(f"GET {path}: {response.status} {body[:200]!r}")
    return elapsed, body


def kibana_versions(count: int, rng: random.Random, avoid: set[str]) -> list[str]:
    """``count`` distinct Kibana versions not in ``avoid`` (which grows with them)."""
    chosen: list[str] = []
    while len(chosen) < count:
        value = f"{rng.choice((7, 8, 9))}.{rng.randrange(31)}.{rng.randrange(40)}"
        if value not in avoid:
            avoid.add(value)
            chosen.append(value)
    return chosen


def query_speed(registry: Registry, queries: int, rng: random.Random) -> dict[str, object]:
    """Distinct ``kibana.version`` searches and the first full listing, in sequence on
    one keep-alive connection; also returns the listing for the mixed load."""
    used: set[str] = set()
    conn = registry.connection()
    try:
        latencies = [
            get(conn, f"/search?kibana.version={v}")[0] for v in kibana_versions(queries, rng, used)
        ]
        first_all, body = get(conn, "/search?all=true&prerelease=true")
    finally:
        conn.close()
    return {
        "queries": len(latencies),
        "p50_s": percentile(latencies, 50),
        "p99_s": percentile(latencies, 99),
        "max_s": max(latencies),
        "all_prerelease_first_s": first_all,
        "all_prerelease_bytes": len(body),
        "listing": json.loads(body),
        "used_kibana": used,
    }


def mixed_paths(
    listing: list[dict[str, object]], categories: list[str], used: set[str], rng: random.Random
) -> list[str]:
    """The mixed load's requests, shuffled: what Kibana and people browsing ask for."""
    names = sorted({str(p["name"]) for p in listing})
    paths = [
        "/categories",
        "/categories?prerelease=true",
        "/categories?include_policy_templates=true",
        "/categories?kibana.version=8.15.0&prerelease=true",
        "/search",
        "/search?all=true",
        "/search?all=true&prerelease=true",
        "/search?prerelease=true&kibana.version=8.15.0",
    ]
    paths += [f"/search?category={c}" for c in rng.sample(categories, min(8, len(categories)))]
    paths += [f"/search?package={n}&all=true" for n in rng.sample(names, min(20, len(names)))]
    paths += [f"/search?kibana.version={v}" for v in kibana_versions(100, rng, used)]
    paths += [f"{p['path']}/" for p in rng.sample(listing, min(200, len(listing)))]
    paths += [str(p["download"]) for p in rng.sample(listing, min(6, len(listing)))]
    rng.shuffle(paths)
    return paths


def mixed_load(registry: Registry, paths: list[str], clients: int = 2) -> dict[str, float]:
    """``paths`` split over ``clients`` keep-alive connections, run at once (so that
    both workers serve part of them)."""

    def client(share: list[str]) -> int:
        conn = registry.connection()
        try:
            return sum(len(get(conn, path)[1]) for path in share)
        finally:
            conn.close()

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        sizes = list(pool.map(client, [paths[i::clients] for i in range(clients)]))
    return {
        "requests": len(paths),
        "bytes": sum(sizes),
        "seconds": time.perf_counter() - began,
    }


def served_run(registry: Registry, queries: int, seed: int) -> dict[str, object]:
    """Start-up times, memory once started, query speed, mixed load, memory after it."""
    health, search = registry.wait_ready()
    registry.wait_workers()
    result: dict[str, object] = {"to_health_s": health, "to_search_s": search}
    result["memory_start"] = registry.memory()
    rng = random.Random(seed)
    speed = query_speed(registry, queries, rng)
    listing = speed.pop("listing")
    used = speed.pop("used_kibana")
    conn = registry.connection()
    try:
        categories = [c["id"] for c in json.loads(get(conn, "/categories")[1])]
    finally:
        conn.close()
    result["queries"] = speed
    result["mixed_load"] = mixed_load(registry, mixed_paths(listing, categories, used, rng))
    result["memory_loaded"] = registry.memory()
    return result


# --------------------------------------------------------------------------- reload


@dataclass
class Target:
    """The folder package whose manifest and version folders the reload runs change."""

    corpus: Path
    name: str
    version: str
    original: bytes = b""
    added: list[str] = field(default_factory=list)

    @property
    def manifest(self) -> Path:
        return self.corpus / self.name / self.version / "manifest.yml"


def pick_target(corpus: Path) -> Target:
    """The first package name (sorted) that has version folders, and its first folder."""
    for name_dir in sorted(p for p in corpus.iterdir() if p.is_dir()):
        versions = sorted(p.name for p in name_dir.iterdir() if (p / "manifest.yml").is_file())
        if versions:
            target = Target(corpus, name_dir.name, versions[0])
            target.original = target.manifest.read_bytes()
            return target
    raise RegistryFailed(f"{corpus} has no package folders")


def replace_field(text: str, key: str, value: str) -> str:
    """``text`` (a manifest) with its top-level ``key:`` line set to ``value``."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith(f"{key}:"):
            lines[index] = f"{key}: {value}\n"
            return "".join(lines)
    raise ValueError(f"no top-level {key!r} in the manifest")


def visible(registry: Registry, target: Target, version: str, description: str | None) -> bool:
    """Whether ``/search`` lists ``version`` of the target (with ``description`` if given)."""
    conn = registry.connection(timeout=30)
    try:
        conn.request("GET", f"/search?package={target.name}&all=true&prerelease=true")
        response = conn.getresponse()
        body = response.read()
    except OSError:  # a worker being replaced
        return False
    finally:
        conn.close()
    if response.status != 200:
        return False
    return any(
        p.get("version") == version and (description is None or p.get("description") == description)
        for p in json.loads(body)
    )


def wait_visible(
    registry: Registry,
    target: Target,
    version: str,
    description: str | None,
    began: float,
    timeout: float = RELOAD_TIMEOUT,
) -> float | None:
    """Seconds from ``began`` until the change shows, or None after ``timeout``."""
    while time.perf_counter() - began < timeout:
        if registry.process.poll() is not None:
            raise registry.failure("registry exited during a reload")
        gave_up = registry.log_message(WATCHER_GAVE_UP)
        if gave_up:
            raise ReloadUnavailable(gave_up)
        if visible(registry, target, version, description):
            return time.perf_counter() - began
        time.sleep(0.05)
    return None


def change_description(
    registry: Registry, target: Target, scratch: Path, text: str, timeout: float = RELOAD_TIMEOUT
) -> float | None:
    """Replace the target version's manifest (one rename) with a new description."""
    staged = scratch / "manifest.yml"
    staged.write_text(replace_field(target.original.decode(), "description", text))
    began = time.perf_counter()
    os.replace(staged, target.manifest)
    return wait_visible(registry, target, target.version, text, began, timeout)


def warm_up(registry: Registry, target: Target, scratch: Path, patience: float) -> float:
    """Change the target until a reload shows it: the watcher may still be setting up
    its watches when the registry first answers, and a change before that is missed."""
    began = time.perf_counter()
    attempt = 0
    while time.perf_counter() - began < RELOAD_TIMEOUT:
        attempt += 1
        text = f"Scale bench warm-up {attempt}."
        if change_description(registry, target, scratch, text, patience) is not None:
            return time.perf_counter() - began
    raise registry.failure(f"no reload within {RELOAD_TIMEOUT:.0f} s of changing a package")


def add_version(registry: Registry, target: Target, scratch: Path, version: str) -> float | None:
    """Move a whole new version folder (a copy of the target's) into the package."""
    staged = scratch / "version"
    shutil.copytree(target.manifest.parent, staged)
    manifest = staged / "manifest.yml"
    manifest.write_text(replace_field(target.original.decode(), "version", version))
    target.added.append(version)
    began = time.perf_counter()
    os.rename(staged, target.corpus / target.name / version)
    return wait_visible(registry, target, version, None, began)


def restore(target: Target) -> None:
    """Put the corpus back as generated."""
    target.manifest.write_bytes(target.original)
    for version in target.added:
        shutil.rmtree(target.corpus / target.name / version, ignore_errors=True)
    target.added.clear()


def reload_runs(
    corpus: Path,
    scratch: Path,
    workers: int,
    catalog: str | None,
    count: int,
    dirty: Path,
    patience: float,
) -> dict[str, object]:
    """``count`` reload times of each kind of change; ``patience`` bounds each warm-up
    attempt (a few times a start-up's duration)."""
    target = pick_target(corpus)
    result: dict[str, object] = {"package": f"{target.name} {target.version}"}
    dirty.touch()
    with running(corpus, scratch, workers, catalog, watcher=True) as registry:
        try:
            registry.wait_ready()
            registry.wait_workers()
            result["warm_up_s"] = warm_up(registry, target, scratch, patience)
            time.sleep(2)
            described = []
            for k in range(count):
                text = f"Scale bench change {k + 1}."
                described.append(change_description(registry, target, scratch, text))
                time.sleep(2)  # let the replaced workers settle before the next change
            result["description_s"] = described
            added = []
            for k in range(count):
                added.append(add_version(registry, target, scratch, f"99.0.{k}"))
                time.sleep(2)
            result["new_version_s"] = added
        finally:
            restore(target)
            dirty.unlink()
    return result


# --------------------------------------------------------------------------- per size


def corpus_params(versions: int, packages: int) -> dict[str, object]:
    return {
        "packages": packages,
        "versions": versions,
        "seed": SEED,
        "zip_fraction": ZIP_FRACTION,
    }


def ensure_corpus(work: Path, versions: int, packages: int) -> Path:
    """``work``/N, generated unless a complete, unmodified one with these settings is there."""
    out = work / str(versions)
    dirty = work / f"{versions}.dirty"
    marker = out / "corpus.json"
    if marker.is_file() and not dirty.exists():
        with contextlib.suppress(ValueError, OSError):
            if json.loads(marker.read_text()).get("params") == corpus_params(versions, packages):
                return out
    partial = work / f"{versions}.partial"
    for stale in (partial, out):
        shutil.rmtree(stale, ignore_errors=True)
    dirty.unlink(missing_ok=True)
    print(f"generating {versions} versions over {packages} names into {out}", flush=True)
    summary = make_corpus.generate(
        str(partial),
        packages=packages,
        versions=versions,
        seed=SEED,
        zip_fraction=ZIP_FRACTION,
        quiet=True,
    )
    os.rename(partial, out)
    record = json.loads(marker.read_text())
    marker.write_text(json.dumps({**record, "out_dir": str(out)}, indent=2) + "\n")
    print(f"  written in {summary.seconds:.1f} s", flush=True)
    return out


def measure_size(args: argparse.Namespace, versions: int, catalog_flag: bool) -> dict[str, object]:
    work = Path(args.work)
    corpus = ensure_corpus(work, versions, args.packages)
    result: dict[str, object] = {"versions": versions, "corpus": str(corpus)}
    # Other jobs on the machine move these figures: keep the load beside them.
    result["load_before"] = os.getloadavg()[0]
    if not args.no_floor:
        startup.measure("floor", [str(corpus)])  # once untimed: the page cache warm
        floor = startup.measure("floor", [str(corpus)])
        result["floor_s"] = floor["seconds"]
        result["manifests"] = int(floor["count"])
        print(f"  floor {floor['seconds']:.2f} s ({int(floor['count'])} manifests)", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"scale-{versions}-", dir=work))
    try:
        catalog = None
        if catalog_flag:
            catalog = ":memory:" if args.catalog == "memory" else str(scratch / "catalog")
            if catalog != ":memory:":
                os.mkdir(catalog)
        with running(corpus, scratch, args.workers, catalog) as registry:
            result["first"] = served_run(registry, args.queries, seed=1)
        if catalog is not None and catalog != ":memory:":
            result["catalog_bytes"] = folder_bytes(Path(catalog))
        print(f"  first start {result['first']['to_search_s']:.2f} s to /search", flush=True)
        restarts = []
        for index in range(args.restarts):
            with running(corpus, scratch, args.workers, catalog) as registry:
                if index == args.restarts - 1:
                    restarts.append(served_run(registry, args.queries, seed=2))
                else:
                    health, search = registry.wait_ready()
                    restarts.append({"to_health_s": health, "to_search_s": search})
            print(f"  restart {restarts[-1]['to_search_s']:.2f} s to /search", flush=True)
        result["restarts"] = restarts
        if not args.no_reload and args.reloads > 0:
            dirty = work / f"{versions}.dirty"
            patience = max(30.0, 3 * result["first"]["to_search_s"])
            try:
                result["reload"] = reload_runs(
                    corpus, scratch, args.workers, catalog, args.reloads, dirty, patience
                )
            except ReloadUnavailable as err:
                result["reload"] = {"error": str(err)}
            print(f"  reloads {result['reload']}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result["load_after"] = os.getloadavg()[0]
    return result


# --------------------------------------------------------------------------- report


def report(results: list[dict[str, object]], meta: dict[str, object]) -> str:
    out = [
        f"Scale benchmark ({meta['date']}, nproc = {meta['nproc']}, -workers={meta['workers']}, "
        f"{meta['catalog']}; commit {meta['commit']})",
        "",
        "Memory: total PSS of all registry processes, MiB",
        "",
    ]
    rows = []
    for r in results:
        runs = [("first start", r.get("first"))]
        if r.get("restarts") and "memory_start" in r["restarts"][-1]:
            runs.append(("restart", r["restarts"][-1]))
        for label, run in runs:
            if not run:
                continue
            start, loaded = run["memory_start"], run["memory_loaded"]
            rows.append(
                [
                    f"{r['versions']:,}",
                    label,
                    str(start["processes"]),
                    mib(start["pss_kib"]),
                    mib(start["parent_pss_kib"]),
                    mib(loaded["pss_kib"]),
                    mib(loaded["pss_kib"] - start["pss_kib"]),
                    mib(r["catalog_bytes"] / 1024)
                    if label == "first start" and "catalog_bytes" in r
                    else "-",
                ]
            )
    headers = ["versions", "run", "processes", "after start", "of it parent", "after load"]
    out += [markdown_table([*headers, "growth", "catalog folder"], rows), ""]

    out += ["Start-up: seconds from launch (restart: median)", ""]
    rows = []
    for r in results:
        first = r["first"]
        restarts = r.get("restarts") or []
        floor = r.get("floor_s")
        rows.append(
            [
                f"{r['versions']:,}",
                f"{r['manifests']:,}" if "manifests" in r else "-",
                secs(floor),
                secs(first["to_health_s"]),
                secs(first["to_search_s"]),
                f"{first['to_search_s'] / floor:.2f}x" if floor else "-",
                secs(median_or_none([x["to_health_s"] for x in restarts]) if restarts else None),
                secs(median_or_none([x["to_search_s"] for x in restarts]) if restarts else None),
                f"{r['load_before']:.1f}, {r['load_after']:.1f}" if "load_after" in r else "-",
            ]
        )
    headers = ["versions", "manifests", "floor", "first: /health", "first: /search"]
    headers += ["÷ floor", "restart: /health", "restart: /search", "load avg"]
    out += [markdown_table(headers, rows), ""]

    reloads = [r for r in results if "reload" in r]
    if reloads:
        out += ["Reload after one package changed: seconds until /search shows it (median)", ""]
        rows = []
        for r in reloads:
            rel = r["reload"]
            cells = [f"{r['versions']:,}"]
            if "error" in rel:
                error = str(rel["error"]).replace("|", "/")[:100]
                rows.append([*cells, "-", error, "-", "-"])
                continue
            for key in ("description_s", "new_version_s"):
                runs = rel.get(key, [])
                cells.append(secs(median_or_none(runs) if runs else None))
                cells.append(" ".join(secs(x) for x in runs))
            rows.append(cells)
        headers = ["versions", "description", "runs", "new version folder", "runs"]
        out += [markdown_table(headers, rows), ""]

    out += ["Queries: distinct kibana.version searches (ms), first all=true&prerelease=true", ""]
    rows = []
    for r in results:
        runs = [("first start", r.get("first"))]
        if r.get("restarts") and "queries" in r["restarts"][-1]:
            runs.append(("restart", r["restarts"][-1]))
        for label, run in runs:
            q, load = run["queries"], run["mixed_load"]
            rows.append(
                [
                    f"{r['versions']:,}",
                    label,
                    str(q["queries"]),
                    msecs(q["p50_s"]),
                    msecs(q["p99_s"]),
                    msecs(q["all_prerelease_first_s"]),
                    f"{q['all_prerelease_bytes'] / 1e6:.1f}",
                    f"{load['requests']} in {load['seconds']:.1f} s",
                ]
            )
    headers = ["versions", "run", "queries", "p50", "p99", "all+prerelease", "its MB"]
    out += [markdown_table([*headers, "mixed load"], rows)]
    return "\n".join(out)


def git_commit() -> str:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default="2000,10000,20000", help="versions per corpus, comma-separated"
    )
    parser.add_argument("--packages", type=int, default=PACKAGES, help="package names")
    parser.add_argument("--work", default="/tmp/scale-corpora", help="where corpora are kept")
    parser.add_argument("--workers", type=int, default=2, help="registry -workers")
    parser.add_argument("--restarts", type=int, default=3, help="restarts per size")
    parser.add_argument("--reloads", type=int, default=3, help="reloads per kind of change")
    parser.add_argument("--queries", type=int, default=300, help="distinct kibana.version")
    parser.add_argument(
        "--catalog",
        choices=("disk", "memory"),
        default="disk",
        help="with -catalog-path: a temporary folder (disk) or :memory:",
    )
    parser.add_argument("--no-reload", action="store_true", help="skip the watcher runs")
    parser.add_argument("--no-floor", action="store_true", help="skip the walk+parse floor")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument(
        "--prepare", action="store_true", help="only generate the corpora (before taking a lock)"
    )
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes: not a list of integers: {args.sizes!r}")
    if not EXECUTABLE.exists():
        parser.error(f"{EXECUTABLE} is missing: run `make` (or `make test`) first")
    if args.restarts < 0 or args.reloads < 0 or args.queries < 1 or args.workers < 1:
        parser.error("--restarts and --reloads must be >= 0, --queries and --workers >= 1")
    Path(args.work).mkdir(parents=True, exist_ok=True)
    # Stopped with SIGTERM, still stop the registry and put the corpus back.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    if args.prepare:
        for versions in sizes:
            print(ensure_corpus(Path(args.work), versions, args.packages))
        return 0
    catalog_flag = has_catalog_flag(registry_help())
    if not catalog_flag:
        catalog = "no -catalog-path in this build: catalog in memory"
    elif args.catalog == "memory":
        catalog = "-catalog-path=:memory:"
    else:
        catalog = "-catalog-path=<temporary folder per size>"
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "nproc": os.cpu_count(),
        "workers": args.workers,
        "catalog": catalog,
        "commit": git_commit(),
        "python": platform.python_version(),
    }
    print(f"scale benchmark: sizes {sizes}; {catalog}", flush=True)
    results = []
    for versions in sizes:
        print(f"{versions} versions", flush=True)
        results.append(measure_size(args, versions, catalog_flag))
    print()
    print(report(results, meta))
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

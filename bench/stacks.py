"""The same ``RegistryApp`` under several serving stacks, driven by ``wrk`` in alternation.

Usage::

    .venv/bin/python bench/stacks.py [--corpus DIR] [--workers N] [--duration 10s]
                                     [--connections 64] [--threads 2] [--rounds 3]
                                     [--stacks uvicorn,uvicorn-fast,granian,...]
                                     [--path URL_PATH] [--granian-set NAME=VALUE ...]

The catalog is loaded once, in this process; each stack then runs in a forked child that
forks ``--workers`` workers sharing one pre-bound socket, exactly as the registry does.
Stacks:

* ``uvicorn``: the registry's own server module (uvicorn + httptools + uvloop), without
  the protocol's replay of repeated answers;
* ``uvicorn-fast``: the same with the replay (``web/fastpath.py``), the registry's server;
* ``granian``: granian's Rust HTTP server (uvloop) calling the app through ASGI, its
  workers forked after load over the same pre-bound socket;
* ``starlette``: the app mounted in a Starlette application, under uvicorn (the cost of
  a framework's routing and middleware stack);
* ``hypercorn``: hypercorn's asyncio worker with uvloop.

Every stack is warmed up, then ``wrk`` runs once per stack per round, stacks in
alternation; the median requests/s per stack is printed with its ratio to the first
stack. ``--granian-set`` changes a setting of the granian server object before it serves
(``backpressure=64``, ``runtime_threads=2``, ``task_impl=rust``,
``http1.pipeline_flush=true``), for trying granian's options.
Stacks whose package is not installed are skipped (``pip install -e '.[bench]'``).
``wrk`` and the servers share the machine's cores; the figures compare stacks with each
other on one machine, not with other machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_PATH = "/search?kibana.version=8.15.0&prerelease=true"
STACKS = ("uvicorn", "uvicorn-fast", "granian", "starlette", "hypercorn")
#: ``--granian-set`` settings, applied to granian servers started by this process.
GRANIAN_SETTINGS: dict[str, str] = {}


def make_corpus(out: Path, packages: int = 24, versions: int = 400) -> Path:
    """A small generated package path whose ``/search`` answer is about 30 KB."""
    subprocess.run(
        [
            sys.executable,
            str(HERE / "make_corpus.py"),
            str(out),
            "--packages",
            str(packages),
            "--versions",
            str(versions),
            "--seed",
            "1",
            "--quiet",
        ],
        check=True,
    )
    return out


def build_app(paths: list[str]) -> Any:
    """Load ``paths`` and build the ``RegistryApp`` as the command line does."""
    from package_registry.catalog.build import build_catalog
    from package_registry.catalog.holder import CatalogHolder
    from package_registry.loading import load_local_packages
    from package_registry.queries.cache import AnswerCache
    from package_registry.web.app import RegistryApp
    from package_registry.web.archives import ArchiveCache
    from package_registry.web.request import CacheTimes, Context

    outcome = load_local_packages(
        paths, validate=True, require_signatures=False, workers=os.cpu_count() or 1
    )
    ctx = Context(
        cache_times=CacheTimes(index=10, search=600, categories=600, catch_all=600),
        holder=CatalogHolder(build_catalog(outcome.sources), AnswerCache),
        archives=ArchiveCache(),
        allow_unknown_query_parameters=True,
        service_name="package-registry",
        service_version="bench",
    )
    return RegistryApp(ctx)


# ----------------------------------------------------------------------------- stacks


def run_uvicorn(app: Any, sock: socket.socket, workers: int, *, fast_path: bool = False) -> None:
    from package_registry.web.server import ServerOptions, serve

    options = ServerOptions(address="", workers=workers, fast_path=fast_path)
    serve(app, sock, options)


def run_granian(app: Any, sock: socket.socket, workers: int) -> None:
    """granian's multi-process server over ``sock``, its workers forked with ``app``."""
    import multiprocessing

    from granian._granian import SocketHolder
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels
    from granian.server.mp import MPServer

    from package_registry.web.server import BACKLOG

    class _Server(MPServer):  # type: ignore[misc]
        def _init_shared_socket(self) -> None:
            # Serve the socket bound here instead of binding a new one.
            self._ssp = None
            self._shd = SocketHolder(sock.fileno(), False, BACKLOG)
            self._sfd = self._shd.get_fd()
            self._sso = sock

    multiprocessing.set_start_method("fork", force=True)
    host, port = sock.getsockname()[:2]
    server = _Server(
        "package_registry.web.app:RegistryApp",
        address=host,
        port=port,
        interface=Interfaces.ASGINL,
        http=HTTPModes.http1,
        websockets=False,
        workers=workers,
        loop=Loops.uvloop,
        backlog=BACKLOG,
        log_level=LogLevels.warning,
        log_access=False,
    )
    for name, value in GRANIAN_SETTINGS.items():
        apply_setting(server, name, value)
    server.serve(target_loader=lambda *_args, **_kwargs: app, wrap_loader=False)


def apply_setting(server: Any, name: str, value: str) -> None:
    """Set one granian server attribute from text (ints, booleans, enums by value)."""
    from granian.http import HTTP1Settings

    parsed: Any = value
    if value.isdigit():
        parsed = int(value)
    elif value in ("true", "false"):
        parsed = value == "true"
    if name.startswith("http1."):
        settings = server.http1_settings or HTTP1Settings()
        setattr(settings, name.removeprefix("http1."), parsed)
        server.http1_settings = settings
        return
    current = getattr(server, name)
    if hasattr(current, "__members__") or type(current).__module__ == "granian.constants":
        parsed = type(current)(value)
    setattr(server, name, parsed)


def run_starlette(app: Any, sock: socket.socket, workers: int) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from package_registry.web.server import ServerOptions, serve

    wrapped = Starlette(routes=[Mount("/", app=app)])
    serve(wrapped, sock, ServerOptions(address="", workers=workers, fast_path=False))


def run_hypercorn(app: Any, sock: socket.socket, workers: int) -> None:
    import uvloop
    from hypercorn.asyncio import serve as hyper_serve
    from hypercorn.config import Config

    def worker() -> None:
        config = Config()
        config.bind = [f"fd://{sock.fileno()}"]
        config.accesslog = None
        config.errorlog = None
        config.backlog = 2048
        uvloop.run(hyper_serve(app, config, mode="asgi"))

    fork_workers(worker, workers)


def fork_workers(target: Callable[[], None], workers: int) -> None:
    """Fork ``workers`` children running ``target``; stop them all on SIGTERM."""
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                target()
            finally:
                os._exit(0)
        children.append(pid)

    def stop(_signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    for child in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, 0)


RUNNERS: dict[str, Callable[[Any, socket.socket, int], None]] = {
    "uvicorn": run_uvicorn,
    "uvicorn-fast": functools.partial(run_uvicorn, fast_path=True),
    "granian": run_granian,
    "starlette": run_starlette,
    "hypercorn": run_hypercorn,
}
REQUIRES = {
    "granian": "granian",
    "starlette": "starlette",
    "hypercorn": "hypercorn",
}


def available(stack: str) -> bool:
    module = REQUIRES.get(stack)
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def start_stack(stack: str, app: Any, workers: int) -> tuple[int, int]:
    """Fork a server for ``stack`` on an ephemeral port; return (pid, port)."""
    from package_registry.web.server import bind

    sock = bind("127.0.0.1:0")
    port = sock.getsockname()[1]
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        code = 0
        try:
            RUNNERS[stack](app, sock, workers)
        except BaseException as err:  # report and leave the child, whatever happened
            print(f"{stack}: {err!r}", file=sys.stderr)
            code = 1
        finally:
            os._exit(code)
    sock.close()
    return pid, port


def wait_ready(port: int, path: str, timeout: float = 30.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as reply:
                return reply.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop_stack(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")


def run_wrk(url: str, threads: int, connections: int, duration: str) -> float:
    """Requests per second reported by one ``wrk`` run."""
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = _RPS.search(out)
    if found is None or "Non-2xx" in out or ("Socket errors" in out and "timeout" in out):
        raise RuntimeError(f"wrk output not usable:\n{out}")
    return float(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", help="package path to serve (default: a generated one)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stacks", default="uvicorn,uvicorn-fast,granian,starlette,hypercorn")
    parser.add_argument("--path", default=DEFAULT_PATH, help="URL path (and query) to request")
    parser.add_argument(
        "--granian-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="granian server setting for the granian stack (repeatable)",
    )
    args = parser.parse_args(argv)
    for setting in args.granian_set:
        name, sep, value = setting.partition("=")
        if not sep:
            parser.error(f"--granian-set {setting}: expected NAME=VALUE")
        GRANIAN_SETTINGS[name] = value
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    stacks = [s for s in args.stacks.split(",") if s]
    unknown = [s for s in stacks if s not in RUNNERS]
    if unknown:
        parser.error(f"unknown stacks: {', '.join(unknown)} (known: {', '.join(STACKS)})")
    skipped = [s for s in stacks if not available(s)]
    stacks = [s for s in stacks if s not in skipped]
    for stack in skipped:
        print(f"skipping {stack}: {REQUIRES[stack]} is not installed", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="stacks-bench-") as tmp:
        corpus = args.corpus or str(make_corpus(Path(tmp) / "corpus"))
        started = time.perf_counter()
        app = build_app([corpus])
        print(f"catalog loaded in {time.perf_counter() - started:.1f} s from {corpus}")
        running = {}
        try:
            for stack in stacks:
                running[stack] = start_stack(stack, app, args.workers)
            sizes = {s: len(wait_ready(port, args.path)) for s, (_, port) in running.items()}
            print(
                f"GET {args.path}: {sizes[stacks[0]]} bytes; {args.workers} workers per stack; "
                f"wrk -t{args.threads} -c{args.connections} -d{args.duration} x {args.rounds} "
                f"rounds; {os.cpu_count()} cores shared by wrk and the server"
            )
            for _, port in running.values():  # warm-up
                run_wrk(f"http://127.0.0.1:{port}{args.path}", args.threads, args.connections, "2s")
            results: dict[str, list[float]] = {s: [] for s in stacks}
            for round_no in range(args.rounds):
                for stack in stacks:
                    url = f"http://127.0.0.1:{running[stack][1]}{args.path}"
                    rps = run_wrk(url, args.threads, args.connections, args.duration)
                    results[stack].append(rps)
                    print(f"  round {round_no + 1} {stack:<14} {rps:>10.0f} req/s", flush=True)
        finally:
            for pid, _ in running.values():
                stop_stack(pid)
        base = statistics.median(results[stacks[0]])
        print(f"\n{'stack':<14} {'median req/s':>12} {'vs ' + stacks[0]:>14}  runs")
        for stack in stacks:
            median = statistics.median(results[stack])
            runs = " ".join(f"{r:.0f}" for r in results[stack])
            print(f"{stack:<14} {median:>12.0f} {median / base:>13.2f}x  {runs}")
    return 0


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    sys.exit(main())

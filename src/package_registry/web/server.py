"""Running the application: one listening socket, N worker processes, TLS, signals.

The catalog is loaded once, in this process, before the socket is bound; workers are
then forked and inherit it copy-on-write, so N workers do not read the packages N
times. The parent supervises: it replaces a worker that dies, and on SIGTERM/SIGINT
asks every worker to finish its in-flight requests, then exits 0. ``-shutdown-timeout``
bounds that wait: a worker drops what is still running then (a client that stopped
reading a download), and one that has not exited a few seconds later is killed.

Each worker is uvicorn (httptools parser, uvloop) with ``ReplayProtocol``, which answers
repeated requests without the ASGI cycle (docs/performance.md: measured against
granian, Starlette and hypercorn, and against nginx, with and without request logs).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from package_registry.observability.accesslog import REQUEST_LOG
from package_registry.observability.metrics import forget_process
from package_registry.web.changes import CatalogChanges
from package_registry.web.connections import ConnectionLimits, guarded
from package_registry.web.fastpath import ReplayProtocol
from package_registry.web.retirement import Retirements, WorkerServer, install_early_stop
from package_registry.web.uvicorn_internals import protocol_problems

log = logging.getLogger("package_registry.server")

#: Seconds beyond -shutdown-timeout after which a worker that has not exited is killed.
KILL_MARGIN = 5.0
#: What "no timeout" is given to uvicorn as: about 31 years.
NO_TIMEOUT = 1 << 30
#: Longest wait for retiring workers to close their listeners before a catalog counts
#: as served (one that does not say so in time is dead, or still starting).
RETIRE_WAIT = 2.0
#: Listen queue length: bursts of Kibana instances connecting at once must not be refused.
BACKLOG = 2048

TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


@dataclass(frozen=True, slots=True)
class ServerOptions:
    address: str
    workers: int = 1
    tls_cert: str = ""
    tls_key: str = ""
    tls_min_version: str = ""
    #: Replay repeated answers from the protocol (``web/fastpath.py``).
    fast_path: bool = True
    #: Seconds a stopping worker gives its in-flight requests before dropping them.
    shutdown_timeout: float = 30.0
    #: Serve with uvicorn's own protocol: no replays, no connection guard (the fallback
    #: when uvicorn's protocol does not look as expected, ``web/uvicorn_internals.py``).
    plain: bool = False
    #: Header-read and idle timeouts, connections per worker (``web/connections.py``).
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``, ``:port``) as Go's ``net.Listen`` reads it."""
    host, sep, port = address.rpartition(":")
    if not sep:
        raise ValueError(f"address {address}: missing port in address")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        number = int(port) if port else 0
    except ValueError:
        raise ValueError(f"address {address}: invalid port") from None
    return host, number


def bind(address: str) -> socket.socket:
    """Listen on ``address``; an empty host listens on every interface."""
    host, port = split_address(address)
    if not host:
        host = "::"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if host == "localhost":
        family, host = socket.AF_INET, "127.0.0.1"
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def _uvicorn_config(app: Callable, options: ServerOptions) -> uvicorn.Config:
    tls = bool(options.tls_cert and options.tls_key)
    limits = options.limits
    protocol = ReplayProtocol if options.fast_path else HttpToolsProtocol
    # Guarded connections idle between requests are closed by the guard's sweep instead.
    keep_alive = (limits.idle_timeout if options.plain else 0) or NO_TIMEOUT
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools" if options.plain else guarded(protocol, limits),
        limit_concurrency=limits.max_connections if options.plain else None,
        timeout_keep_alive=keep_alive,  # type: ignore[arg-type]
        lifespan="off",
        access_log=False,
        server_header=False,
        date_header=True,
        log_config=None,
        ssl_certfile=options.tls_cert if tls else None,
        ssl_keyfile=options.tls_key if tls else None,
        timeout_graceful_shutdown=options.shutdown_timeout,  # type: ignore[arg-type]
        backlog=BACKLOG,
    )
    config.load()
    if tls and config.ssl is not None and options.tls_min_version:
        config.ssl.minimum_version = TLS_VERSIONS[options.tls_min_version]
    return config


def _run_worker(
    app: Callable, sock: socket.socket, options: ServerOptions, retired: int | None = None
) -> None:
    install_early_stop()
    server = WorkerServer(_uvicorn_config(app, options), retired)
    try:
        server.run(sockets=[sock])
    finally:
        REQUEST_LOG.flush()  # a retiring or stopped worker writes its last request lines


class Refresher(Protocol):
    """Keeps this process's catalog current from a background thread (package path
    watcher, storage polling) and calls ``changed`` after each catalog it swaps in."""

    def start(self, changed: Callable[[], None]) -> None: ...

    def stop(self) -> None: ...


def serve(
    app: Callable,
    sock: socket.socket,
    options: ServerOptions,
    refresher: Refresher | None = None,
    changes: CatalogChanges | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT; return the process exit status.

    With a ``refresher``, one worker serves each new catalog as soon as it is swapped in
    (it is the same process); with several, the workers are replaced by new ones forked
    from this process after each new catalog (the old ones finish their requests first),
    so every worker serves one whole catalog and shares its pages with this process, as
    after start-up. ``changes`` tells when workers serve a new catalog.
    """
    host, port = sock.getsockname()[:2]
    scheme = "https" if options.tls_cert and options.tls_key else "http"
    shown = f"[{host}]" if ":" in host else host
    log.info(
        "listening on %s://%s:%d",
        scheme,
        shown,
        port,
        extra={"server.address": host, "server.port": port, "workers": options.workers},
    )
    problems = [] if options.plain else protocol_problems()
    if problems:
        log.warning(
            "uvicorn %s's HTTP protocol lacks %s: serving with plain uvicorn, without answer "
            "replays, header-read timeout and connection guard",
            uvicorn.__version__,
            ", ".join(problems),
        )
        options = replace(options, plain=True)
    changes = changes or CatalogChanges()
    changes.immediate = options.workers <= 1
    if refresher is not None:
        refresher.start(changes.changed)
    try:
        if options.workers <= 1:
            _run_worker(app, sock, options)
            return 0
        return _supervise(app, sock, options, changes)
    finally:
        if refresher is not None:
            refresher.stop()


def _supervise(
    app: Callable, sock: socket.socket, options: ServerOptions, changes: CatalogChanges
) -> int:
    """Fork the workers, replace any that dies, and replace all of them after each
    catalog swap in ``changes``; on SIGTERM/SIGINT stop them and wait for them."""
    children: dict[int, int] = {}
    retiring: set[int] = set()
    #: When each stopping worker is killed if it has not exited by itself.
    deadlines: dict[int, float] = {}
    stopping = False
    retirements = Retirements()

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            try:
                _run_worker(app, sock, options, retirements.writer)
            finally:
                os._exit(0)
        children[pid] = slot

    def terminate(pids: Iterable[int]) -> None:
        deadline = time.monotonic() + options.shutdown_timeout + KILL_MARGIN
        for pid in pids:
            deadlines.setdefault(pid, deadline)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def kill_late() -> None:
        now = time.monotonic()
        for pid, deadline in list(deadlines.items()):
            if now > deadline:
                log.error("worker %d did not stop within -shutdown-timeout; killed", pid)
                del deadlines[pid]
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        terminate(list(children))

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(options.workers):
        spawn(slot)
    while children or retiring:
        swap = None if stopping else changes.take()
        if swap is not None:
            old = dict(children)
            children.clear()
            for slot in old.values():
                spawn(slot)
            retiring.update(old)
            terminate(old)
            # Served once no old worker can take a new connection.
            retirements.wait(old, RETIRE_WAIT)
            changes.served(swap)
            log.info("workers replaced for a new catalog", extra={"workers": len(old)})
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            kill_late()
            changes.wait_changed(0.5)  # a child's exit is noticed within half a second
            continue
        retiring.discard(pid)
        deadlines.pop(pid, None)
        forget_process(pid)
        slot = children.pop(pid, None)
        if slot is None or stopping:
            continue
        log.error("worker %d exited (status %d); starting a new one", pid, status)
        time.sleep(0.5)
        spawn(slot)
    sys.stdout.flush()
    return 0

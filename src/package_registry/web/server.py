"""Running the application: one listening socket, N worker processes, TLS, signals.

The catalog is loaded once, in this process, before the socket is bound; workers are
then forked and inherit it copy-on-write, so N workers do not read the packages N
times. The parent supervises: it replaces a worker that dies, and on SIGTERM/SIGINT
asks every worker to finish its in-flight requests, then exits 0.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from package_registry.web.fastpath import ReplayProtocol

log = logging.getLogger("package_registry.server")

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
    #: ``auto`` (granian when installed, see ``choose_backend``), ``granian`` or ``uvicorn``.
    backend: str = "auto"
    #: How granian calls the app: ``auto`` (RSGI when the app has ``__rsgi__``), ``rsgi``
    #: or ``asgi``.
    granian_interface: str = "auto"
    #: Under uvicorn, replay repeated answers from the protocol (``web/fastpath.py``).
    fast_path: bool = True


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
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=ReplayProtocol if options.fast_path else "httptools",
        lifespan="off",
        access_log=False,
        server_header=False,
        date_header=True,
        log_config=None,
        ssl_certfile=options.tls_cert if tls else None,
        ssl_keyfile=options.tls_key if tls else None,
        timeout_graceful_shutdown=None,
        backlog=BACKLOG,
    )
    config.load()
    if tls and config.ssl is not None and options.tls_min_version:
        config.ssl.minimum_version = TLS_VERSIONS[options.tls_min_version]
    return config


def _stopped(signum: int, _frame: object) -> None:
    """Handler uvicorn re-raises the stop signal into once it has shut down: exit cleanly."""


def _run_worker(app: Callable, sock: socket.socket, options: ServerOptions) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stopped)
    server = uvicorn.Server(_uvicorn_config(app, options))
    server.run(sockets=[sock])


def serve(app: Callable, sock: socket.socket, options: ServerOptions) -> int:
    """Serve until SIGTERM/SIGINT; return the process exit status."""
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
    replays = options.fast_path and bool(getattr(app, "records_replays", lambda: False)())
    if choose_backend(options, replays=replays) == "granian":
        try:
            server = granian_server(sock, options, rsgi=_uses_rsgi(app, options))
        except (ImportError, AttributeError, TypeError) as err:  # an unknown granian release
            log.warning("granian cannot serve here (%s); serving with uvicorn", err)
        else:
            server.serve(target_loader=lambda *_args, **_kwargs: app, wrap_loader=False)
            return 0
    if options.workers <= 1:
        _run_worker(app, sock, options)
        return 0
    return _supervise(app, sock, options)


def choose_backend(options: ServerOptions, *, replays: bool = False) -> str:
    """The server for ``options``: uvicorn when it replays repeated answers, else granian
    when installed and able to honour the options, else uvicorn.

    ``replays``: the app records answers for ``web/fastpath.py`` (no metrics, no access
    log); uvicorn with the replay is then the faster server (docs/performance.md).
    """
    if options.backend != "auto":
        return options.backend
    if options.workers <= 1:
        return "uvicorn"  # served in this process, as the metrics set-up expects
    if options.tls_cert and options.tls_key and options.tls_min_version in ("1.0", "1.1"):
        return "uvicorn"  # rustls speaks TLS 1.2 and 1.3 only
    if replays:
        return "uvicorn"
    try:
        import granian  # noqa: F401
    except ImportError:
        return "uvicorn"
    return "granian"


#: granian's own log lines (worker deaths, errors) go to our handlers, warnings and up.
_GRANIAN_LOGGING = {
    "loggers": {"_granian": {"handlers": [], "propagate": True}},
}


def _uses_rsgi(app: Callable, options: ServerOptions) -> bool:
    """RSGI unless asked otherwise: granian then writes answers with less Python per request."""
    if options.granian_interface == "auto":
        return hasattr(app, "__rsgi__")
    return options.granian_interface == "rsgi"


def granian_server(sock: socket.socket, options: ServerOptions, *, rsgi: bool) -> Any:
    """granian's Rust HTTP server over the pre-bound socket, workers forked after load.

    ``rsgi`` selects the app's RSGI entry, else ASGI. Call ``serve(target_loader=…)`` on
    the result with a loader returning the app.

    Workers are ``fork``-ed children that take the already loaded application from the
    parent's memory (copy-on-write), like ``_supervise`` does for uvicorn; the parent
    respawns a worker that dies and, on SIGTERM/SIGINT, lets every worker finish its
    in-flight requests before exiting.
    """
    import multiprocessing

    from granian._granian import SocketHolder
    from granian.constants import HTTPModes, Interfaces, Loops, SSLProtocols
    from granian.log import LogLevels
    from granian.server.mp import MPServer

    if not hasattr(MPServer, "_init_shared_socket"):
        raise AttributeError("granian.server.mp.MPServer._init_shared_socket")

    class _Server(MPServer):  # type: ignore[misc]
        def _init_shared_socket(self) -> None:
            # Serve the socket bound by ``bind`` instead of binding a new one.
            self._ssp = None
            self._shd = SocketHolder(sock.fileno(), False, BACKLOG)
            self._sfd = self._shd.get_fd()
            self._sso = sock

    if multiprocessing.get_start_method(allow_none=True) != "fork":
        multiprocessing.set_start_method("fork", force=True)
    tls = bool(options.tls_cert and options.tls_key)
    host, port = sock.getsockname()[:2]
    server = _Server(
        "package_registry.web.app:RegistryApp",
        address=host,
        port=port,
        interface=Interfaces.RSGI if rsgi else Interfaces.ASGINL,
        http=HTTPModes.http1,
        websockets=False,
        workers=options.workers,
        loop=Loops.uvloop,
        backlog=BACKLOG,
        log_enabled=True,
        log_level=LogLevels.warning,
        log_dictconfig=_GRANIAN_LOGGING,
        log_access=False,
        ssl_cert=Path(options.tls_cert) if tls else None,
        ssl_key=Path(options.tls_key) if tls else None,
        ssl_protocol_min=SSLProtocols.tls13
        if options.tls_min_version == "1.3"
        else SSLProtocols.tls12,
        respawn_failed_workers=True,
        respawn_interval=0.5,
    )
    SocketHolder(sock.fileno(), False, BACKLOG)  # a changed signature fails here, not in serve
    return server


def _supervise(app: Callable, sock: socket.socket, options: ServerOptions) -> int:
    children: dict[int, int] = {}
    stopping = False

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            try:
                _run_worker(app, sock, options)
            finally:
                os._exit(0)
        children[pid] = slot

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(options.workers):
        spawn(slot)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        slot = children.pop(pid, None)
        if slot is None or stopping:
            continue
        log.error("worker %d exited (status %d); starting a new one", pid, status)
        time.sleep(0.5)
        spawn(slot)
    sys.stdout.flush()
    return 0

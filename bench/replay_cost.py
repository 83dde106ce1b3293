"""What one replayed request costs the worker in Python, measured in-process.

Usage::

    .venv/bin/python bench/replay_cost.py [--requests 200000] [--rounds 5]
                                           [--path /search?kibana.version=8.15.0]

``bench/serve.sh`` measures whole servers against nginx, with wrk on the same cores, so a
change of a few hundred nanoseconds per request drowns in its noise. This drives the
worker's protocol class (``web/server.py``: ``ReplayProtocol`` under ``ConnectionGuard``)
directly: a real ``RegistryApp`` on the example packages records the answer through the
normal path once, then the same request bytes are fed to ``data_received`` again and
again on a transport that only counts what it is given. What is timed is everything the
worker's Python does for a replayed request: parsing callbacks, the replay, the
connection bookkeeping and, with the request log on, building and buffering its line
(written to ``/dev/null``). Sockets, the kernel and the event loop's own work are left
out. Prints the best and the median µs per request of several rounds for each variant
(on a machine shared with other work, the best is the steadier figure).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "src" / "package_registry" / "examples"
#: Requests per event-loop turn: a busy worker answers several connections per turn.
TURN = 64


class CountingTransport(asyncio.Transport):
    """A plain-HTTP transport that keeps nothing: only the bytes it was given are counted."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: Any) -> None:
        self.written += len(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.written += len(chunk)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def measure(app: Any, guarded_protocol: bool, path: str, requests: int) -> float:
    """µs per replayed request for one protocol variant."""
    import uvicorn
    import uvloop
    from uvicorn.server import ServerState

    from package_registry.web.connections import ConnectionLimits, guarded
    from package_registry.web.fastpath import STORE, ReplayProtocol

    protocol_class: type = ReplayProtocol
    if guarded_protocol:
        protocol_class = guarded(ReplayProtocol, ConnectionLimits())
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
    config.load()
    loop = uvloop.new_event_loop()  # as in a worker
    state = ServerState()
    state.default_headers = [(b"date", b"Tue, 08 Dec 2026 04:00:00 GMT")]
    STORE.clear()
    protocol = protocol_class(config=config, server_state=state, app_state={}, _loop=loop)
    transport = CountingTransport()
    protocol.connection_made(transport)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n".encode()

    async def first() -> None:  # the normal path records the answer
        protocol.data_received(request)
        while protocol.cycle is not None and not protocol.cycle.response_complete:
            await asyncio.sleep(0)

    loop.run_until_complete(first())
    assert STORE.entries, "the answer was not recorded"

    async def replays() -> float:  # on the running loop, as in a worker
        feed = protocol.data_received
        started = time.perf_counter()
        for n in range(requests):
            feed(request)
            if n % TURN == 0:  # let the loop finish what requests leave to it (timers)
                await asyncio.sleep(0)
        return time.perf_counter() - started

    elapsed = loop.run_until_complete(replays())
    assert state.total_requests >= requests, "requests took the normal path"
    protocol.connection_lost(None)
    loop.close()
    return elapsed / requests * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--path", default="/search?kibana.version=8.15.0&prerelease=true")
    args = parser.parse_args()

    from package_registry.observability.accesslog import REQUEST_LOG

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from stacks import build_app  # the app as the command line builds it

    app = build_app([str(EXAMPLES)])
    print(f"µs per replayed request of {args.path}, {args.rounds} rounds: best, median")
    with open("/dev/null", "w") as devnull:
        for guarded_protocol in (False, True):
            for logged in (False, True):
                REQUEST_LOG.configure(
                    enabled=logged,
                    ecs=True,
                    service={"service.name": "package-registry", "service.version": "bench"},
                    stream=devnull,
                )
                runs = [
                    measure(app, guarded_protocol, args.path, args.requests)
                    for _ in range(args.rounds)
                ]
                REQUEST_LOG.flush()
                name = ("ConnectionGuard + " if guarded_protocol else "") + "ReplayProtocol"
                log = "request log on" if logged else "request log off"
                print(f"{name:36} {log:16} {min(runs):6.2f} {statistics.median(runs):6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the worker protocol relies on in uvicorn's private httptools protocol, checked.

``ReplayProtocol`` (``web/fastpath.py``) and ``ConnectionGuard`` (``web/connections.py``)
subclass ``uvicorn.protocols.http.httptools_impl.HttpToolsProtocol`` and use its
per-connection attributes and callbacks, which are not a public interface. The version
range in ``pyproject.toml`` is the tested one (CI runs the protocol tests on its lowest
version as well); should another uvicorn be installed anyway, the server checks at
start-up that the protocol still looks as expected, and otherwise serves with plain
uvicorn (no replays, no header-read timeout) after a warning, rather than failing on the
first request.
"""

from __future__ import annotations

import asyncio

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

#: Instance attributes read or written by the subclasses.
ATTRIBUTES = (
    "config",
    "loop",
    "parser",
    "transport",
    "flow",
    "server",
    "client",
    "scheme",
    "root_path",
    "app_state",
    "server_state",
    "connections",
    "pipeline",
    "cycle",
    "scope",
    "headers",
    "expect_100_continue",
)
#: Methods overridden or called by the subclasses.
METHODS = (
    "connection_made",
    "connection_lost",
    "data_received",
    "on_message_begin",
    "on_url",
    "on_header",
    "on_headers_complete",
    "on_body",
    "on_message_complete",
    "on_response_complete",
    "shutdown",
    "_unset_keepalive_if_required",
)
#: ``ServerState`` attributes read by the subclasses.
STATE_ATTRIBUTES = ("connections", "tasks", "default_headers", "total_requests")


def protocol_problems(protocol: type = HttpToolsProtocol) -> list[str]:
    """What ``protocol`` lacks of what the subclasses use; empty when all is there."""
    config = uvicorn.Config(_no_app, lifespan="off", log_config=None)
    config.load()
    if not hasattr(config, "asgi_version"):
        return ["Config.asgi_version"]
    state = ServerState()
    problems = [f"ServerState.{name}" for name in STATE_ATTRIBUTES if not hasattr(state, name)]
    loop = asyncio.new_event_loop()
    try:
        instance = protocol(config=config, server_state=state, app_state={}, _loop=loop)
    except Exception as error:  # any signature or set-up change
        return [*problems, f"{protocol.__name__}(): {error!r}"]
    finally:
        loop.close()
    problems += [name for name in ATTRIBUTES if not hasattr(instance, name)]
    problems += [f"{name}()" for name in METHODS if not callable(getattr(protocol, name, None))]
    return problems


async def _no_app(scope: object, receive: object, send: object) -> None:
    """The application of the throw-away protocol built by the check; never called."""

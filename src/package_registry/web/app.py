"""The ASGI application: route table, middleware order, and writing responses.

No framework sits here: each request is routed (with the reference's path cleaning and
StrictSlash redirects), handed to one handler, and written in one ``http.response.start``
plus body. CORS, the request log line and metrics wrap matched routes only, as in the
reference; unknown paths and cleaning redirects pass without them.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from package_registry.observability.logging import ACCESS_LOGGER, request_fields
from package_registry.observability.metrics import Metrics
from package_registry.web import router
from package_registry.web.request import Context, Request
from package_registry.web.responses import NO_CACHE, NOSNIFF, TEXT_TYPE, Response
from package_registry.web.routes.downloads import DownloadRoutes
from package_registry.web.routes.info import InfoRoutes
from package_registry.web.routes.packages import PackageRoutes
from package_registry.web.routes.search import SearchRoutes

Handler = Callable[[Request], Response | Awaitable[Response]]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

CORS = (b"access-control-allow-origin", b"*")
#: Read size for files sent through Python.
FILE_CHUNK = 256 * 1024
#: Hand whole files to the server (ASGI ``pathsend``) when it offers to send them. Off:
#: granian 2.8's ``pathsend`` measured 2.5-6x slower than sending the bytes for 154 B and
#: 295 KB files and no faster for 8 MB (docs/performance.md).
USE_PATHSEND = False
#: Routing results kept per worker, keyed by (path, query); cleared when full.
ROUTE_MEMO_SIZE = 4096
NOT_FOUND_PAGE = Response(404, [*NO_CACHE, TEXT_TYPE, NOSNIFF], b"404 page not found\n")

access_log = logging.getLogger(ACCESS_LOGGER)


class RegistryApp:
    """The registry as one ASGI callable."""

    def __init__(self, ctx: Context, metrics: Metrics | None = None) -> None:
        self.ctx = ctx
        self.metrics = metrics
        info, search = InfoRoutes(ctx), SearchRoutes(ctx)
        packages, downloads = PackageRoutes(ctx), DownloadRoutes(ctx)
        self._handlers: dict[str, Handler] = {
            "index": info.index,
            "health": info.health,
            "favicon": info.favicon,
            "search": search.search,
            "categories": search.categories,
            "package_index": packages.package_index,
            "static": packages.static,
            "artifact": downloads.artifact,
            "signature": downloads.signature,
            "tarball": downloads.tarball,
        }
        if ctx.upstream is not None:  # proxy mode: these may ask the upstream registry
            self._handlers.update(
                search=search.search_with_proxy,
                categories=search.categories_with_proxy,
                package_index=packages.package_index_with_proxy,
                static=packages.static_with_proxy,
                artifact=downloads.artifact_with_proxy,
                signature=downloads.signature_with_proxy,
                tarball=downloads.tarball_with_proxy,
            )
        self._async = {name for name, h in self._handlers.items() if inspect.iscoroutinefunction(h)}
        self._routes: dict[tuple[str, str], router.Match | router.Redirect | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    async def _http(self, scope: Scope, send: Send) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        query = scope["query_string"].decode("latin-1")
        found = self._resolve(path, query)
        if found is None:
            await self._write(scope, send, NOT_FOUND_PAGE)
            return
        if isinstance(found, router.Redirect):
            if found.bare:
                await self._write(
                    scope, send, Response(301, [(b"location", found.location.encode())])
                )
                return
            response = _strict_slash_redirect(scope["method"], found.location)
            template = None
        else:
            request = Request(
                method=scope["method"],
                path=path,
                query=query,
                headers=_headers(scope),
                params=found.params,
                scope=scope,
            )
            name = found.route.name
            handler = self._handlers[name]
            result = handler(request)
            response = await result if name in self._async else result  # type: ignore[misc]
            template = found.route.template
        response.headers.append(CORS)
        sent = await self._write(scope, send, response)
        if self.metrics is not None and template is not None:
            self.metrics.observe_request(
                scope["method"], template, response.status, time.perf_counter() - started, sent
            )
        if scope.get("raw_path") != b"/health" or query:
            _log_request(scope, response.status, sent, started)

    def _resolve(self, path: str, query: str) -> router.Match | router.Redirect | None:
        """``router.resolve``, remembered: the same few URLs are asked again and again."""
        key = (path, query)
        try:
            return self._routes[key]
        except KeyError:
            pass
        found = router.resolve(path, query)
        if len(self._routes) >= ROUTE_MEMO_SIZE:
            self._routes.clear()
        self._routes[key] = found
        return found

    async def _write(self, scope: Scope, send: Send, response: Response) -> int:
        """Send ``response``; return the number of body bytes written."""
        headers = response.headers
        head_only = scope["method"] == "HEAD"
        length = (
            response.length
            if response.length is not None
            else (None if response.stream is not None or response.file_path else len(response.body))
        )
        if length is not None and response.status != 304:
            headers = [*headers, (b"content-length", b"%d" % length)]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if head_only or response.status == 304:
            await send({"type": "http.response.body", "body": b""})
            return 0
        if response.file_path is not None:
            return await _send_file(scope, send, response.file_path)
        if response.stream is not None:
            total = 0
            for chunk in response.stream():
                total += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return total
        await send({"type": "http.response.body", "body": response.body})
        return len(response.body)


async def _send_file(scope: Scope, send: Send, path: str) -> int:
    """Whole files: ``pathsend`` when enabled and offered, read in chunks otherwise.

    A file that fits in one chunk goes out in one message.
    """
    if USE_PATHSEND and "http.response.pathsend" in scope.get("extensions", {}):
        await send({"type": "http.response.pathsend", "path": path})
        return os.stat(path).st_size
    total = 0
    with open(path, "rb") as handle:
        chunk = handle.read(FILE_CHUNK)
        if len(chunk) < FILE_CHUNK:
            await send({"type": "http.response.body", "body": chunk})
            return len(chunk)
        while chunk:
            total += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            chunk = handle.read(FILE_CHUNK)
    await send({"type": "http.response.body", "body": b""})
    return total


def _strict_slash_redirect(method: str, location: str) -> Response:
    """Go's ``http.Redirect`` 301, with its tiny HTML body for GET."""
    headers = [(b"location", location.encode())]
    body = b""
    if method in ("GET", "HEAD"):
        headers.append((b"content-type", b"text/html; charset=utf-8"))
    if method == "GET":
        body = b'<a href="%s">Moved Permanently</a>.\n\n' % _go_html_escape(location).encode()
    return Response(301, headers, body)


_GO_HTML_ESCAPES = (("&", "&amp;"), ("'", "&#39;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"))


def _go_html_escape(text: str) -> str:
    """HTML escaping as Go's ``html.EscapeString`` writes it."""
    for raw, escaped in _GO_HTML_ESCAPES:
        text = text.replace(raw, escaped)
    return text


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name; the first occurrence wins, as Go's ``Get``."""
    out: dict[str, str] = {}
    for key, value in scope["headers"]:
        name = key.decode("latin-1").lower()
        if name not in out:
            out[name] = value.decode("latin-1")
    return out


def _log_request(scope: Scope, status: int, sent: int, started: float) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    access_log.info(
        "%s %s HTTP/%s",
        scope["method"],
        scope["path"],
        scope.get("http_version", "1.1"),
        extra=request_fields(scope, status, sent, time.perf_counter() - started),
    )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

"""The application: route table, middleware order, and writing responses.

No framework sits here: each request is routed (with the reference's path cleaning and
StrictSlash redirects), handed to one handler, and its ``Response`` written. CORS, the
request log line and metrics wrap matched routes only, as in the reference; unknown paths
and cleaning redirects pass without them.

Answers that the server may replay without calling the app again (``web/fastpath.py``)
are handed to it after they are written, with a hook that keeps the metrics and the
request log complete for the replays.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import aclosing
from typing import Any

from package_registry.observability.accesslog import REQUEST_LOG, LineTarget
from package_registry.observability.apm import Tracing
from package_registry.observability.metrics import Metrics, request_size
from package_registry.queries.lru import ENTRY_OVERHEAD, ByteLRU, approx_size
from package_registry.web import fastpath, router
from package_registry.web.fastpath import EXTENSION as REPLAY_EXTENSION
from package_registry.web.fastpath import Recorder, Replayed
from package_registry.web.filecache import FileCache
from package_registry.web.offload import chunks_of
from package_registry.web.request import Context, Request
from package_registry.web.responses import (
    NO_CACHE,
    NOSNIFF,
    TEXT_TYPE,
    AsyncBody,
    Response,
    moved_permanently,
)
from package_registry.web.routes.downloads import DownloadRoutes
from package_registry.web.routes.info import InfoRoutes
from package_registry.web.routes.packages import PackageRoutes
from package_registry.web.routes.search import SearchRoutes
from package_registry.web.statictree import ROUTES as STATIC_ROUTES

Handler = Callable[[Request], Response | Awaitable[Response]]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


CORS = (b"access-control-allow-origin", b"*")
#: Read size for files sent through Python.
FILE_CHUNK = 256 * 1024
NOT_FOUND_PAGE = Response(404, [*NO_CACHE, TEXT_TYPE, NOSNIFF], b"404 page not found\n")
#: Routes whose handlers ask the catalog for packages (the reference's indexer ``Get``).
INDEXER_ROUTES = frozenset(
    ("search", "categories", "package_index", "static", "artifact", "signature")
)


class RegistryApp:
    """The registry as one ASGI callable."""

    def __init__(self, ctx: Context, metrics: Metrics | None = None) -> None:
        self.ctx = ctx
        self.metrics = metrics
        #: Elastic APM, when ``ELASTIC_APM_SERVER_URL`` is set.
        self.tracing = Tracing.from_environ(ctx.service_name, ctx.service_version)
        info, search = InfoRoutes(ctx), SearchRoutes(ctx)
        #: Small package files and downloads held in memory, per worker.
        self.file_cache = FileCache(max_total=ctx.budget.files)
        # Workers are forked from this process: each starts with an empty store this size.
        fastpath.STORE.max_bytes = ctx.budget.replays
        packages = PackageRoutes(ctx, self.file_cache)
        downloads = DownloadRoutes(ctx, self.file_cache)
        self._handlers: dict[str, Handler] = {
            "index": info.index,
            "health": info.health,
            "favicon": info.favicon,
            "openapi": info.openapi,
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
        if ctx.storage is not None:  # storage packages' files are relayed from the storage
            self._handlers.update(
                static=packages.static_with_proxy,
                artifact=downloads.artifact_with_proxy,
                signature=downloads.signature_with_proxy,
            )
        tree = ctx.static_tree
        if tree is not None:  # -static-path: a built tree answers first
            for name in STATIC_ROUTES:
                self._handlers[name] = tree.serving(name, self._handlers[name])
        #: The route table: the reference's, then the browse pages when they are on.
        self._table = router.ROUTES
        if ctx.browse:
            # Jinja2 and markdown-it are loaded only by registries that serve the pages.
            from package_registry.web.browse.pages import BrowseRoutes

            browse = BrowseRoutes(ctx)
            self._table = router.ROUTES + router.BROWSE_ROUTES
            self._handlers.update(
                browse_list=browse.package_list,
                browse_categories=browse.categories,
                browse_style=browse.style,
                browse_latest=browse.latest,
                browse_package=browse.package,
            )
        if ctx.publishing is not None:
            from package_registry.web.routes.publish import PublishRoutes

            publish = PublishRoutes(ctx, metrics)
            self._table = self._table + router.PUBLISH_ROUTES
            self._handlers.update(publish=publish.publish, unpublish=publish.delete)
        self._async = {name for name, h in self._handlers.items() if inspect.iscoroutinefunction(h)}
        #: Whether requests asking the catalog are timed as the storage indexer's gets.
        self._indexer_gets = metrics is not None and metrics.indexer is not None
        #: Routing results by (path, query), half of the memos' budget.
        self._routes: ByteLRU[tuple[str, str], tuple[router.Match | router.Redirect | None]] = (
            ByteLRU(ctx.budget.memos // 2)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One HTTP request (or the lifespan protocol, acknowledged)."""
        if scope["type"] == "http":
            tracing = self.tracing
            if tracing is None:
                await self._http(scope, receive, send)
                return
            tracing.begin(scope["headers"])
            status, template = 500, None  # as reported when answering fails
            try:
                status, template = await self._http(scope, receive, send)
            finally:
                query = scope["query_string"].decode("latin-1")
                route = template or "unknown route"
                tracing.end(scope["method"], route, scope["path"], query, status)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> tuple[int, str | None]:
        """Answer, then record for replays, count, and log; returns the status and the
        route template (for the APM transaction)."""
        started = time.perf_counter()
        method: str = scope["method"]
        query = scope["query_string"].decode("latin-1")
        in_flight = self.metrics.in_flight if self.metrics is not None else None
        if in_flight is not None:
            in_flight.inc()
        try:
            response, template = await self._respond(
                method, scope["path"], query, _asgi_headers(scope), scope, receive
            )
            sent = await _write_asgi(method, receive, send, response)
        finally:
            if in_flight is not None:
                in_flight.dec()
        logged = scope.get("raw_path") != b"/health" or bool(query)
        if response.replayable and response.status == 200:
            record = scope.get("extensions", {}).get(REPLAY_EXTENSION)
            if record is not None and template:
                target = _raw_target(scope)
                self._record(record, response, scope["path"], query, target, template, logged)
        if template is not None:
            self._observe(method, template, response, sent, started, scope)
            if logged and REQUEST_LOG.enabled:
                client = scope.get("client")
                REQUEST_LOG.write(
                    method,
                    scope["path"],
                    scope.get("http_version", "1.1"),
                    query,
                    response.status,
                    sent,
                    time.perf_counter() - started,
                    client[0] if client else None,
                    scope["headers"],
                    self.tracing.ids() if self.tracing is not None else None,
                )
        return response.status, template

    async def _respond(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        scope: Scope,
        receive: Receive | None = None,
    ) -> tuple[Response, str | None]:
        """The answer to one request.

        Returns the response and the route template it matched (for StrictSlash
        redirects too, which pass through the middleware as in the reference): ``None``
        for answers that pass without it (unknown paths, path-cleaning redirects).
        """
        found = self._resolve(path, query)
        if found is None:
            return NOT_FOUND_PAGE, None
        if isinstance(found, router.Redirect):
            if found.bare:
                return Response(301, [(b"location", found.location.encode())]), None
            response = moved_permanently(method, found.location)
            template = found.template
        else:
            request = Request(
                method=method,
                path=path,
                query=query,
                headers=headers,
                params=found.params,
                scope=scope,
                receive=receive,
            )
            name = found.route.name
            handler = self._handlers[name]
            timed = self._indexer_gets and name in INDEXER_ROUTES
            started = time.perf_counter() if timed else 0.0
            result = handler(request)
            response = await result if name in self._async else result  # type: ignore[misc]
            template = found.route.template
            metrics = self.metrics
            if metrics is not None:
                if timed:
                    metrics.observe_indexer_get(time.perf_counter() - started)
                if response.storage_request is not None:
                    metrics.count_storage_request(*response.storage_request)
        response.headers.append(CORS)
        return response, template

    def _record(
        self,
        record: Recorder,
        response: Response,
        path: str,
        query: str,
        target: bytes,
        template: str,
        logged: bool,
    ) -> None:
        """Hand a replayable answer, as written, to the server's replay hook, with what
        its replays must do for metrics and the request log."""
        if response.stream is not None or response.file_path is not None:
            return
        headers = [*response.headers, (b"content-length", b"%d" % len(response.body))]
        if _content_length(response) != len(response.body):
            return
        generation = self.ctx.holder.current.catalog.generation
        replayed = self._replayed(path, query, target, template, logged, response.storage_request)
        record(
            200, headers, response.body, response.revalidate, generation, self._generation, replayed
        )

    def _replayed(
        self,
        path: str,
        query: str,
        target: bytes,
        template: str,
        logged: bool,
        storage_request: tuple[str, str] | None,
    ) -> Replayed | None:
        """Metrics and the request line for a replayed answer (``None``: nothing to do)."""
        metrics = self.metrics
        log = REQUEST_LOG if logged and REQUEST_LOG.enabled else None
        tracing = self.tracing
        if metrics is None and log is None and tracing is None:
            return None
        line_target = LineTarget(path, query) if log is not None else None

        def replayed(
            method: str,
            http_version: str,
            client: tuple[str, int] | None,
            headers: list[tuple[bytes, bytes]],
            sent: int,
            seconds: float,
        ) -> None:
            if metrics is not None:
                received = request_size(method, target, http_version, headers)
                metrics.observe_request(method, template, 200, seconds, sent, received)
                if storage_request is not None:
                    metrics.count_storage_request(*storage_request)
            trace = None
            if tracing is not None:
                trace = tracing.replayed(method, template, path, query, headers, seconds)
            if log is not None:
                host = client[0] if client else None
                log.write(
                    method,
                    path,
                    http_version,
                    query,
                    200,
                    sent,
                    seconds,
                    host,
                    headers,
                    trace,
                    line_target,
                )

        return replayed

    def _generation(self) -> int:
        return self.ctx.holder.current.catalog.generation

    def _observe(
        self,
        method: str,
        template: str,
        response: Response,
        sent: int,
        started: float,
        scope: Scope,
    ) -> None:
        if self.metrics is not None:
            received = request_size(
                method, _raw_target(scope), scope.get("http_version", "1.1"), scope["headers"]
            )
            self.metrics.observe_request(
                method, template, response.status, time.perf_counter() - started, sent, received
            )

    def _resolve(self, path: str, query: str) -> router.Match | router.Redirect | None:
        """``router.resolve``, remembered: the same few URLs are asked again and again."""
        key = (path, query)
        held = self._routes.get(key)
        if held is None:
            held = (router.resolve(path, query, self._table),)
            # A match's parameters are pieces of the path: twice the key bounds both.
            self._routes.put(key, held, 2 * approx_size(key) + ENTRY_OVERHEAD)
        return held[0]


def _raw_target(scope: Scope) -> bytes:
    """The request target as sent: raw path and query."""
    target: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope["query_string"]
    return target + b"?" + query if query else target


def _content_length(response: Response) -> int | None:
    """Bytes the body will have, when known before sending (never for a 304)."""
    if response.status == 304:
        return None
    if response.length is not None:
        return response.length
    if response.stream is not None or response.file_path or response.body_stream is not None:
        return None
    return len(response.body)


async def _write_asgi(method: str, receive: Receive, send: Send, response: Response) -> int:
    """Send ``response`` as ASGI messages; return the number of body bytes written."""
    headers = response.headers
    length = _content_length(response)
    if length is not None:
        headers = [*headers, (b"content-length", b"%d" % length)]
    if response.body_stream is not None:
        start = {"type": "http.response.start", "status": response.status, "headers": headers}
        return await _send_relayed(method, receive, send, start, response.body_stream)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if method == "HEAD" or response.status == 304:
        await send({"type": "http.response.body", "body": b""})
        return 0
    if response.file_path is not None:
        return await _send_file(send, response.file_path)
    if response.stream is not None:
        return await _send_stream(receive, send, response.stream())
    await send({"type": "http.response.body", "body": response.body})
    return len(response.body)


async def _send_stream(receive: Receive, send: Send, body: Iterator[bytes]) -> int:
    """A streamed body, read off the event loop; reading stops when the client goes
    away (the server would drop what is sent after), so no thread keeps inflating a
    zip member for nobody."""
    watcher = asyncio.ensure_future(_disconnected(receive))
    total = 0
    try:
        async with aclosing(chunks_of(body, watcher.done)) as chunks:
            async for chunk in chunks:
                total += len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        watcher.cancel()
    return total


async def _send_relayed(
    method: str, receive: Receive, send: Send, start: dict[str, Any], body: AsyncBody
) -> int:
    """A body read from another server, passed on chunk by chunk as the client takes it
    (``send`` waits while the client's buffer is full).

    A source that fails mid-body raises, and the server then drops the connection
    instead of ending the body. A client that goes away stops the transfer at once.
    """
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await send(start)
        total = 0
        if method != "HEAD":
            async for chunk in body:
                if gone.done():
                    return total
                if chunk:
                    total += len(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return total
    finally:
        gone.cancel()
        await body.aclose()


async def _disconnected(receive: Receive) -> None:
    """Return once the client has closed the connection."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send_file(send: Send, path: str) -> int:
    """A whole file read in chunks; one that fits in one chunk goes out in one message."""
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


def _asgi_headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name; the first occurrence wins, as Go's ``Get``."""
    out: dict[str, str] = {}
    for key, value in scope["headers"]:
        name = key.decode("latin-1").lower()
        if name not in out:
            out[name] = value.decode("latin-1")
    return out


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

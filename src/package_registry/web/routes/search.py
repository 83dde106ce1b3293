"""``/search`` and ``/categories``: parse the query, ask the catalog, write cached bytes.

Answers come from the answer cache of the catalog snapshot the request started with,
so a reload never mixes two catalogs in one answer. Cached answers carry an ETag
(``If-None-Match`` gives 304) and a gzip copy made once per answer. A ``/search`` answer
is known by the package entries it selects, so queries selecting the same entries share
one body.

In proxy mode the upstream registry's answer for the same raw query is merged in; such
answers depend on the upstream too, so they are kept for at most the route's
``cache_time`` (``ExpiringAnswers``) instead of for the catalog's lifetime.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from package_registry.catalog.snapshot import Catalog
from package_registry.queries.cache import Answer, AnswerCache
from package_registry.queries.categories import categories, category_counts, render_categories
from package_registry.queries.expiring import ExpiringAnswers
from package_registry.queries.lru import ENTRY_OVERHEAD, ByteLRU, approx_size
from package_registry.queries.merge import merge_categories, merge_search
from package_registry.queries.params import (
    CategoriesQuery,
    InvalidQuery,
    SearchQuery,
    parse_categories_query,
    parse_search_query,
)
from package_registry.queries.search import (
    QueryFailed,
    render_entries,
    search_entries,
)
from package_registry.sources.proxy import UpstreamError
from package_registry.web.request import Context, Request
from package_registry.web.responses import (
    JSON_TYPE,
    Response,
    bad_request,
    cache_headers,
    internal_error,
    not_found,
)

#: A parsed query with its answer-cache key, or the text of its 400 answer.
Parsed = tuple[Any, Hashable] | str

log = logging.getLogger("package_registry.proxy")
cache_log = logging.getLogger("package_registry.cache")


@dataclass(frozen=True, slots=True)
class _Kind:
    """What differs between ``/search`` and ``/categories``; the flow is shared."""

    name: str
    headers: list[tuple[bytes, bytes]]
    #: The local answer from the snapshot's answer cache: (cache, key, catalog, query).
    answer: Callable[[AnswerCache, Hashable, Catalog, Any], Answer]
    #: The local result before rendering, for merging with the upstream's (proxy mode).
    partial: Callable[[Catalog, Any], Any]
    #: (query, local partial, upstream answer) → bytes.
    merge: Callable[[Any, Any, Any], bytes]
    #: Text before a ``QueryFailed`` reason in the 404 body.
    failure_prefix: str
    #: Merged answers, kept for the route's cache time.
    proxied: ExpiringAnswers


class SearchRoutes:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        #: Parsed query strings by (route, raw query), half of the memos' budget.
        self._parsed: ByteLRU[tuple[str, str], Parsed] = ByteLRU(ctx.budget.memos // 2)
        proxied = ctx.budget.proxied // 2
        self._search = _Kind(
            name="search",
            headers=[*cache_headers(ctx.cache_times.search), JSON_TYPE],
            answer=lambda cache, key, catalog, query: cache.get_or_select(
                key,
                lambda: search_entries(catalog, query),
                lambda entries: render_entries(entries, query.category),
                salt=("search", query.category),
            ),
            partial=search_entries,
            merge=merge_search,
            failure_prefix="fetching package failed: ",
            proxied=ExpiringAnswers(ctx.cache_times.search, proxied),
        )
        self._categories = _Kind(
            name="categories",
            headers=[*cache_headers(ctx.cache_times.categories), JSON_TYPE],
            answer=lambda cache, key, catalog, query: cache.get_or_compute(
                key, lambda: categories(catalog, query)
            ),
            partial=category_counts,
            merge=lambda _query, counts, remote: render_categories(
                merge_categories(counts, remote)
            ),
            failure_prefix="",
            proxied=ExpiringAnswers(ctx.cache_times.categories, proxied),
        )

    def _parse(self, route: str, raw: str) -> Parsed:
        """The query of ``route`` parsed once per distinct raw query string.

        Parsing depends only on the raw string and the (fixed) unknown-parameter
        setting, so repeated queries reuse the frozen query object and its cache key.
        """
        memo = self._parsed
        parsed: Parsed | None = memo.get((route, raw))
        if parsed is not None:
            return parsed
        allow = self._ctx.allow_unknown_query_parameters
        try:
            query: SearchQuery | CategoriesQuery = (
                parse_search_query(raw, allow)
                if route == "search"
                else parse_categories_query(raw, allow)
            )
            parsed = (query, (route, query.cache_key()))
        except InvalidQuery as err:
            parsed = str(err)
        key = (route, raw)
        memo.put(key, parsed, approx_size(key) + approx_size(parsed) + ENTRY_OVERHEAD)
        return parsed

    def search(self, request: Request) -> Response:
        return self._local(request, self._search)

    def categories(self, request: Request) -> Response:
        return self._local(request, self._categories)

    async def search_with_proxy(self, request: Request) -> Response:
        """``search`` with the upstream's packages for the same raw query joined in."""
        return await self._merged(request, self._search)

    async def categories_with_proxy(self, request: Request) -> Response:
        """``categories`` with the upstream's counts for the same raw query added."""
        return await self._merged(request, self._categories)

    def _local(self, request: Request, kind: _Kind) -> Response:
        """The answer from this catalog's answer cache (computed once per query)."""
        parsed = self._parse(kind.name, request.query)
        if isinstance(parsed, str):
            return bad_request(parsed)
        query, key = parsed
        snapshot = self._ctx.holder.current
        cache = snapshot.cache
        limited = kind.name in cache.limits
        try:
            answer = cache.get(key) if limited else None
            if answer is not None:
                _cache_debug("using as response cached request", request, cache, kind.name)
            else:
                evictions = cache.evictions
                answer = kind.answer(cache, key, snapshot.catalog, query)
                if limited:
                    _cache_debug(
                        "added to cache request",
                        request,
                        cache,
                        kind.name,
                        evicted=cache.evictions != evictions,
                    )
        except QueryFailed as err:
            return not_found(f"{kind.failure_prefix}{err}")
        response = cached_response(request, answer, kind.headers)
        # Only 200s are ever replayed; answers bounded by count and age are served from
        # the answer cache every time, so that those bounds hold for every copy kept.
        response.replayable = not limited
        return response

    async def _merged(self, request: Request, kind: _Kind) -> Response:
        """The local answer merged with the upstream's, kept for the cache time."""
        upstream = self._ctx.upstream
        parsed = self._parse(kind.name, request.query)
        if upstream is None or isinstance(parsed, str):
            return self._local(request, kind)
        query, key = parsed
        snapshot = self._ctx.holder.current
        key = (snapshot.catalog.generation, key)
        answer = kind.proxied.get(key)
        if answer is None:
            try:
                mine = kind.partial(snapshot.catalog, query)
            except QueryFailed as err:
                return not_found(f"{kind.failure_prefix}{err}")
            try:
                theirs = await getattr(upstream, kind.name)(request.query)
            except UpstreamError as err:
                log.error(f"proxy mode: {kind.name} failed", extra={"error.message": str(err)})
                return internal_error()
            answer = kind.proxied.put(key, kind.merge(query, mine, theirs))
        return cached_response(request, answer, kind.headers)


def _cache_debug(
    message: str, request: Request, cache: AnswerCache, group: str, evicted: bool | None = None
) -> None:
    """The reference's debug line for a bounded /search or /categories answer cache."""
    if cache_log.isEnabledFor(logging.DEBUG):
        url = f"{request.path}?{request.query}" if request.query else request.path
        extra: dict[str, object] = {"cache.url": url, "cache.size": cache.group_size(group)}
        if evicted is not None:
            extra["cache.eviction"] = evicted
        cache_log.debug(message, extra=extra)


def cached_response(
    request: Request, answer: Answer, headers: list[tuple[bytes, bytes]]
) -> Response:
    """Write a cached answer: 304 on a matching ETag, gzip when the client takes it."""
    etag = answer.etag.encode()
    out = [*headers, (b"etag", etag), (b"vary", b"Accept-Encoding")]
    inm = request.headers.get("if-none-match")
    if inm is not None and (inm.strip() == "*" or answer.etag in inm):
        return Response(304, [h for h in out if h[0] != b"content-type"])
    if request.accepts_gzip() and len(answer.body) > 512:
        body = answer.gzip()
        out.append((b"content-encoding", b"gzip"))
        return Response(200, out, body, length=len(body))
    return Response(200, out, answer.body, length=len(answer.body))

"""``/search`` and ``/categories``: parse the query, ask the catalog, write cached bytes.

Answers come from the answer cache of the catalog snapshot the request started with,
so a reload never mixes two catalogs in one answer. Cached answers carry an ETag
(``If-None-Match`` gives 304) and a gzip copy made once per answer.
"""

from __future__ import annotations

from collections.abc import Callable

from package_registry.queries.categories import categories
from package_registry.queries.params import (
    InvalidQuery,
    parse_categories_query,
    parse_search_query,
)
from package_registry.queries.search import QueryFailed, search
from package_registry.web.request import Context, Request
from package_registry.web.responses import (
    JSON_TYPE,
    Response,
    bad_request,
    cache_headers,
    not_found,
)


class SearchRoutes:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._search_headers = [*cache_headers(ctx.cache_times.search), JSON_TYPE]
        self._categories_headers = [*cache_headers(ctx.cache_times.categories), JSON_TYPE]

    def search(self, request: Request) -> Response:
        try:
            query = parse_search_query(request.query, self._ctx.allow_unknown_query_parameters)
        except InvalidQuery as err:
            return bad_request(str(err))
        snapshot = self._ctx.holder.current
        try:
            answer = snapshot.cache.get_or_compute(
                ("search", query.cache_key()), lambda: search(snapshot.catalog, query)
            )
        except QueryFailed as err:
            return not_found(f"fetching package failed: {err}")
        return _cached(request, answer, self._search_headers)

    def categories(self, request: Request) -> Response:
        try:
            query = parse_categories_query(
                request.query, self._ctx.allow_unknown_query_parameters
            )
        except InvalidQuery as err:
            return bad_request(str(err))
        snapshot = self._ctx.holder.current
        compute: Callable[[], bytes] = lambda: categories(snapshot.catalog, query)  # noqa: E731
        try:
            answer = snapshot.cache.get_or_compute(("categories", query.cache_key()), compute)
        except QueryFailed as err:
            return not_found(str(err))
        return _cached(request, answer, self._categories_headers)


def _cached(request: Request, answer, headers) -> Response:  # type: ignore[no-untyped-def]
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

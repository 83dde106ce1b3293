"""The request as handlers see it, and what every handler is given besides it.

Handlers get a small parsed ``Request`` (method, decoded path, raw query, lower-case
headers, route parameters) and the ``Context`` holding what lives for the whole
process: cache times, the memory budget of the caches, the catalog holder, the archive
cache, in proxy mode the upstream registry, with a storage bucket the relay to its
public files, with ``-static-path`` the built tree, whether the browse pages
are on, and what publishing needs when it is on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from package_registry.catalog.holder import CatalogHolder
from package_registry.queries.cache import AnswerCache
from package_registry.web.archives import ArchiveCache
from package_registry.web.negotiation import gzip_accepted

if TYPE_CHECKING:
    from package_registry.publish.service import Publishing
    from package_registry.sources.proxy import Upstream
    from package_registry.web.relay import StorageRelay
    from package_registry.web.statictree import StaticTree


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    params: dict[str, str]
    scope: dict[str, Any]
    #: The ASGI ``receive``, for the routes that read a body (publishing).
    receive: Callable[[], Awaitable[dict[str, Any]]] | None = None

    def accepts_gzip(self) -> bool:
        return gzip_accepted(self.headers.get("accept-encoding"))


@dataclass(frozen=True, slots=True)
class CacheTimes:
    """Seconds of ``max-age`` per route family (``cache_time.*`` in config.yml)."""

    index: float
    search: float
    categories: float
    catch_all: float


#: ``-cache-max-bytes``'s default: what each worker may keep in caches keyed by requests.
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CacheBudget:
    """Bytes each worker may keep per cache keyed by what clients send (``-cache-max-bytes``).

    Every such cache is bounded by bytes, keys included, so no sequence of distinct
    requests grows a worker beyond the total. Answers get the largest share (they are
    what saves work); replays and small files come next; memos of parsed queries and
    routes and proxy-mode answers get a sixteenth each.
    """

    #: Answers of the current catalog (bodies, gzip copies, keys): ``queries.cache``.
    answers: int
    #: Recorded answers replayed by the server, with their memfds: ``web.fastpath``.
    replays: int
    #: Small package files held in memory: ``web.filecache``.
    files: int
    #: Parsed query strings and routing results, split between the two memos.
    memos: int
    #: Proxy-mode answers merged with the upstream's, split between two routes.
    proxied: int

    @classmethod
    def split(cls, total: int = DEFAULT_CACHE_BYTES) -> CacheBudget:
        sixteenth = total // 16
        return cls(
            answers=6 * sixteenth,
            replays=4 * sixteenth,
            files=4 * sixteenth,
            memos=sixteenth,
            proxied=sixteenth,
        )


#: The split of ``DEFAULT_CACHE_BYTES``.
DEFAULT_BUDGET = CacheBudget.split()


@dataclass(frozen=True, slots=True)
class Context:
    cache_times: CacheTimes
    holder: CatalogHolder[AnswerCache]
    archives: ArchiveCache
    allow_unknown_query_parameters: bool
    service_name: str
    service_version: str
    #: The ``-proxy-to`` registry when proxy mode is on.
    upstream: Upstream | None = None
    #: Where storage packages' files come from, with ``-feature-storage-indexer``.
    storage: StorageRelay | None = None
    #: Bytes each cache keyed by requests may keep.
    budget: CacheBudget = DEFAULT_BUDGET
    #: The built tree the routes without query parameters are served from (``-static-path``).
    static_tree: StaticTree | None = None
    #: The HTML pages under ``/browse/`` (``-browse``).
    browse: bool = True
    #: POST and DELETE ``/api/v1/packages`` (``-publish-tokens-file``, ``-publish-path``).
    publishing: Publishing | None = None

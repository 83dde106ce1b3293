"""Files of Package Storage v2 packages, relayed from the public storage endpoint.

Packages read from a storage bucket (``-feature-storage-indexer``) have no files here:
their zip, signature and static files live under ``-storage-endpoint``. As in the
reference they are relayed, not redirected: a new request with the same method and no
client headers, the upstream status and body passed on unchanged, and of its headers
only ``Content-Length``, ``Content-Type``, ``Last-Modified`` and ``Date`` copied when the
answer does not set them already. A storage that cannot be reached is a 500. The body is
read whole before it is passed on (package zips are a few MB), so a failed transfer is
a 500 rather than a truncated download.
"""

from __future__ import annotations

import urllib.parse

import httpx

from package_registry.config.outgoing import OutgoingTimeouts
from package_registry.gotext import escape_path
from package_registry.web.responses import Headers, Response, text_error

#: The upstream headers an answer takes over (when it has none of that name).
RELAYED = ("content-type", "last-modified", "date")


class StorageRelay:
    """Asks ``endpoint`` for storage packages' files; one HTTP client per worker."""

    def __init__(self, endpoint: str, timeouts: OutgoingTimeouts | None = None) -> None:
        self.endpoint = endpoint
        #: Connect and read-idle limits; no total, so large zips on slow links complete.
        self.timeouts = timeouts or OutgoingTimeouts()
        #: Made on first use, inside the worker process that serves (never before fork).
        self._client: httpx.AsyncClient | None = None

    def artifact_url(self, name: str, version: str, suffix: str) -> str:
        """``<endpoint>`` ⊕ ``artifacts/packages/<name>-<version><suffix>`` (RFC 3986)."""
        return urllib.parse.urljoin(self.endpoint, f"artifacts/packages/{name}-{version}{suffix}")

    def static_url(self, name: str, version: str, file: str) -> str:
        """The static file ``file`` (decoded) of a package, re-escaped as a Go path.

        The folder is resolved against the endpoint and the file appended, so that a
        first path segment with ``:`` cannot be read as a URL scheme.
        """
        folder = urllib.parse.urljoin(self.endpoint, f"artifacts/static/{name}-{version}/")
        return folder + escape_path(file)

    async def relay(self, method: str, url: str, headers: Headers) -> Response:
        """``url``'s answer to ``method``, with ``headers`` (the route's) kept first."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeouts.httpx())
        try:
            upstream = await self._client.request(method, url)
        except httpx.HTTPError:
            return text_error(500, "error from package-storage server", headers)
        out = list(headers)
        present = {name for name, _ in out}
        for name in RELAYED:
            value = upstream.headers.get(name)
            if value is not None and name.encode() not in present:
                out.append((name.encode(), value.encode("latin-1")))
        length = None
        if method == "HEAD" and "content-encoding" not in upstream.headers:
            declared = upstream.headers.get("content-length", "")
            length = int(declared) if declared.isdigit() else None
        return Response(upstream.status_code, out, upstream.content, length=length)

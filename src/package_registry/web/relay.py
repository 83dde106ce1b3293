"""Files of Package Storage v2 packages, relayed from the public storage endpoint.

Packages read from a storage bucket (``-feature-storage-indexer``) have no files here:
their zip, signature and static files live under ``-storage-endpoint``. As in the
reference they are relayed, not redirected: a new request with the same method and no
client headers, the upstream status and body passed on unchanged, and of its headers
only ``Content-Length``, ``Content-Type``, ``Last-Modified`` and ``Date`` copied when the
answer does not set them already.

The body is streamed chunk by chunk as it arrives, so a relayed download holds one
chunk in memory, whatever its size. A storage that cannot be reached, or that does not
answer within the outgoing timeouts before its first byte, is a 500
``error from package-storage server``. Once the answer has started, a transfer that
breaks or stalls longer than the read timeout aborts the client connection
(``UpstreamBroken``): the client sees a failed download, never a short one that looks
complete.

A ``file:///folder`` endpoint (a bucket tree on local disk, as
``package-registry build --format bucket`` writes it) is read directly instead: each
file is served with its ``Last-Modified`` and the registry's own content types (as over
HTTP, the client's headers are not passed on), a missing one is a 404, and a path that
would leave the folder is never opened.
"""

from __future__ import annotations

import logging
import os
import stat
import urllib.parse
from collections.abc import AsyncIterator

import httpx

from package_registry.config.outgoing import OutgoingTimeouts
from package_registry.gotext import escape_path
from package_registry.packages.files import safe_relpath
from package_registry.web.responses import Headers, Response, disk_file, serve_content, text_error

log = logging.getLogger("package_registry.storage")

#: The upstream headers an answer takes over (when it has none of that name).
RELAYED = ("content-type", "last-modified", "date")
#: Statuses whose answers have no body to relay.
_NO_BODY = frozenset({204, 304})


class UpstreamBroken(Exception):
    """The storage endpoint failed after its answer started: the client connection must
    be dropped, since the status and length are already sent."""


class RelayedBody:
    """The body of one upstream answer, read as the client takes it; ``aclose`` frees
    the upstream connection whether or not the body was read."""

    def __init__(self, upstream: httpx.Response) -> None:
        self._upstream = upstream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._upstream.aiter_bytes():
                yield chunk
        except httpx.HTTPError as exc:
            url = str(self._upstream.request.url)
            log.error(
                "error from package-storage server while relaying",
                extra={"url.full": url, "error.message": f"{type(exc).__name__}: {exc}"},
            )
            raise UpstreamBroken(f"{url}: {type(exc).__name__}") from None

    async def aclose(self) -> None:
        await self._upstream.aclose()


class StorageRelay:
    """Asks ``endpoint`` for storage packages' files; one HTTP client per worker."""

    def __init__(self, endpoint: str, timeouts: OutgoingTimeouts | None = None) -> None:
        #: The folder of a ``file://`` endpoint, whose files are read without HTTP.
        self.folder: str | None = None
        if endpoint.startswith("file://"):
            self.folder = urllib.parse.unquote(urllib.parse.urlsplit(endpoint).path)
            endpoint = endpoint.rstrip("/") + "/"  # a folder: its files resolve inside it
        self.endpoint = endpoint
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
        """``url``'s answer to ``method``, with ``headers`` (the route's) kept first.

        The status and headers are awaited here (bounded by the connect and read
        timeouts); the body is left to stream when the response is written.
        """
        if self.folder is not None:
            return self._serve_local(self.folder, method, url, headers)
        if self._client is None:
            # Go's client asks for gzip only and decodes it; so does this one.
            self._client = httpx.AsyncClient(
                timeout=self.timeouts.httpx(), headers={"accept-encoding": "gzip"}
            )
        client = self._client
        try:
            upstream = await client.send(client.build_request(method, url), stream=True)
        except httpx.HTTPError as exc:
            log.error(
                "error from package-storage server",
                extra={"url.full": url, "error.message": f"{type(exc).__name__}: {exc}"},
            )
            return text_error(500, "error from package-storage server", headers)
        out = list(headers)
        present = {name for name, _ in out}
        for name in RELAYED:
            value = upstream.headers.get(name)
            if value is not None and name.encode() not in present:
                out.append((name.encode(), value.encode("latin-1")))
        length = None
        declared = upstream.headers.get("content-length", "")
        if "content-encoding" not in upstream.headers and declared.isdigit():
            length = int(declared)  # a decoded body's length is unknown: sent chunked
        if method == "HEAD" or upstream.status_code in _NO_BODY:
            await upstream.aclose()
            return Response(upstream.status_code, out, length=length)
        return Response(upstream.status_code, out, length=length, body_stream=RelayedBody(upstream))

    def _serve_local(self, folder: str, method: str, url: str, headers: Headers) -> Response:
        """The file under ``folder`` that ``url`` (made by this relay) names."""
        relative = safe_relpath(urllib.parse.unquote(url.removeprefix(self.endpoint)))
        path = os.path.join(folder, relative) if relative is not None else ""
        try:
            info = os.stat(path) if path else None
        except OSError:
            info = None
        if info is None or not stat.S_ISREG(info.st_mode):
            return text_error(404, "404 page not found", headers)
        try:
            content = disk_file(path, path)
        except OSError:
            return text_error(500, "error from package-storage server", headers)
        # As the relay over HTTP: the client's headers are not passed on.
        return serve_content(method, {}, content, headers)

"""``/package/{name}/{version}/`` and every file inside a package.

The package document is rendered once per catalog snapshot and cached; files are
served with ``Last-Modified``, conditional and range requests, straight from disk or
from inside the package's zip. Request paths go through ``safe_relpath`` so nothing
outside the package can be reached.

In proxy mode a package that is not local is looked up in the upstream registry: its
document is served as the upstream wrote it (re-encoded in the reference's order), and
its files are 301 redirects to the upstream.
"""

from __future__ import annotations

import logging

from package_registry.packages.files import PackageFiles, safe_relpath
from package_registry.packages.model import Package
from package_registry.packages.render import render_json
from package_registry.packages.versions import is_strict_version
from package_registry.sources.proxy import Upstream, UpstreamError
from package_registry.web.filecache import FileCache
from package_registry.web.mime import content_type_for, needs_sniffing
from package_registry.web.request import Context, Request
from package_registry.web.responses import (
    JSON_TYPE,
    Content,
    Response,
    bad_request,
    cache_headers,
    internal_error,
    moved_permanently,
    not_found,
    serve_content,
    text_error,
)

log = logging.getLogger("package_registry.http")


async def find_upstream(upstream: Upstream, name: str, version: str) -> Package | Response | None:
    """The upstream package, ``None`` when the upstream has none, or the 500 answer
    (without Cache-Control) when asking failed."""
    try:
        return await upstream.package(name, version)
    except UpstreamError as err:
        log.error("proxy mode: package lookup failed", extra={"error.message": str(err)})
        return internal_error()


class PackageRoutes:
    def __init__(self, ctx: Context, file_cache: FileCache | None = None) -> None:
        self._ctx = ctx
        self._file_cache = file_cache
        self._index_headers = cache_headers(ctx.cache_times.index)
        self._file_headers = cache_headers(ctx.cache_times.catch_all)

    def package_index(self, request: Request) -> Response:
        name, version = request.params["name"], request.params["version"]
        if not is_strict_version(version):
            return bad_request("invalid package version")
        snapshot = self._ctx.holder.current
        package = snapshot.catalog.lookup(name, version)
        if package is None:
            return not_found("package revision not found")
        answer = snapshot.cache.get_or_compute(
            ("package", name, version), package.documents.full_json
        )
        headers = [*self._index_headers, JSON_TYPE]
        return Response(200, headers, answer.body, length=len(answer.body), replayable=True)

    async def _remote(self, request: Request) -> Package | Response | None:
        """The upstream's copy of a package missing here (or the error answer to give);
        ``None`` when the request is answered locally."""
        name, version = request.params["name"], request.params["version"]
        upstream = self._ctx.upstream
        if (
            upstream is None
            or not is_strict_version(version)
            or self._ctx.holder.current.catalog.lookup(name, version) is not None
        ):
            return None
        found = await find_upstream(upstream, name, version)
        return not_found("package revision not found") if found is None else found

    async def package_index_with_proxy(self, request: Request) -> Response:
        """``package_index``, falling back to the upstream for packages not found here."""
        found = await self._remote(request)
        if found is None:
            return self.package_index(request)
        if isinstance(found, Response):
            return found
        try:
            body = render_json(found.full)
        except ValueError:
            return internal_error()
        headers = [*self._index_headers, JSON_TYPE]
        return Response(200, headers, body, length=len(body))

    def static(self, request: Request) -> Response:
        name, version = request.params["name"], request.params["version"]
        if not is_strict_version(version):
            return bad_request("invalid package version")
        catalog = self._ctx.holder.current.catalog
        package = catalog.lookup(name, version)
        if package is None:
            return not_found("package revision not found")
        return self._serve_file(request, package, catalog.generation)

    async def static_with_proxy(self, request: Request) -> Response:
        """``static``, relaying storage packages' files from the storage endpoint and
        redirecting to the upstream for packages not found here."""
        storage = self._ctx.storage
        name, version = request.params["name"], request.params["version"]
        if storage is not None and is_strict_version(version):
            known = self._ctx.holder.current.catalog.lookup(name, version)
            if known is not None and known.files is None:
                url = storage.static_url(name, version, request.params["file"])
                relayed = await storage.relay(request.method, url, self._file_headers)
                relayed.storage_request = ("remote", "statics")
                return relayed
        found = await self._remote(request)
        if found is None:
            return self.static(request)
        if isinstance(found, Response):
            return found
        assert self._ctx.upstream is not None
        location = self._ctx.upstream.file_url(found.name, found.version, request.params["file"])
        return moved_permanently(request.method, location, self._file_headers)

    def _serve_file(self, request: Request, package: Package, generation: int) -> Response:
        name = package.name
        headers = list(self._file_headers)
        files = package.files
        if files is None:
            return internal_error(headers)
        relpath = safe_relpath(request.params["file"])
        if relpath is None:
            log.warning(
                "refused a path outside the package",
                extra={"url.path": request.path, "package.name": name},
            )
            return text_error(404, "resource not found", headers)
        try:
            info = files.stat(relpath)
        except OSError:
            return internal_error(headers)
        if info is None:
            return text_error(404, "resource not found", headers)
        data = None
        cache = self._file_cache
        if cache is not None and cache.fits(info.size):
            try:
                data = cache.get(
                    generation,
                    (files.location, relpath),
                    info.size,
                    info.mtime,
                    lambda: _read_all(files, relpath),
                )
            except OSError:
                return internal_error(headers)
        head = None
        if data is not None:
            head = data[:512]
        elif needs_sniffing(relpath):
            with files.open(relpath) as handle:
                head = handle.read(512)
        content = Content(
            size=info.size,
            mtime=info.mtime,
            content_type=content_type_for(relpath, head),
            open=lambda: files.open(relpath),
            path=None if data is not None else files.local_path(relpath),
            data=data,
        )
        response = serve_content(request.method, request.headers, content, headers)
        response.storage_request = ("local", "statics")
        return response


def _read_all(files: PackageFiles, relpath: str) -> bytes:
    with files.open(relpath) as handle:
        return handle.read()

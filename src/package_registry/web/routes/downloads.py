"""Package downloads under ``/epr/``: the zip, its ``.sig``, and the legacy tarball.

Zipped packages are sent as the files they are (ranges, ``Last-Modified``). Folder
packages are archived once into the archive cache and then sent as files too, but
without range support, as the reference answers them. In proxy mode a package that is
not local but exists upstream is a 301 redirect to the upstream's download; a package
from a storage bucket has its zip and signature relayed from the storage endpoint.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from package_registry.packages.archive import write_targz, write_zip
from package_registry.packages.model import Package
from package_registry.packages.versions import is_strict_version
from package_registry.web.filecache import FileCache
from package_registry.web.request import Context, Request
from package_registry.web.responses import (
    Content,
    Response,
    bad_request,
    cache_headers,
    internal_error,
    moved_permanently,
    not_found,
    serve_content,
)
from package_registry.web.routes.packages import find_upstream

ZIP_TYPE = "application/zip"
SIG_TYPE = "application/pgp-signature"
TARGZ_TYPE = "application/gzip"


class DownloadRoutes:
    def __init__(self, ctx: Context, file_cache: FileCache | None = None) -> None:
        self._ctx = ctx
        self._headers = cache_headers(ctx.cache_times.catch_all)
        self._file_cache = file_cache

    def _file_content(self, path: str, content_type: str) -> Content:
        """A file on disk, with its bytes when the file cache holds (or takes) it."""
        info = os.stat(path)
        data = None
        cache = self._file_cache
        if cache is not None and cache.fits(info.st_size):
            generation = self._ctx.holder.current.catalog.generation
            data = cache.get(generation, path, info.st_size, info.st_mtime, _reader(path))
        return Content(
            size=info.st_size,
            mtime=info.st_mtime,
            content_type=content_type,
            open=functools.partial(open, path, "rb"),
            path=None if data is not None else path,
            data=data,
        )

    def _find(self, request: Request, missing: str) -> Package | Response:
        version = request.params["version"]
        if not is_strict_version(version):
            return bad_request("invalid package version")
        package = self._ctx.holder.current.catalog.lookup(request.params["name"], version)
        if package is None or package.files is None:
            return not_found(missing)
        return package

    async def _find_with_proxy(
        self, request: Request, missing: str, suffix: str
    ) -> Package | Response:
        """``_find``, then the storage's copy of a storage package (relayed), then the
        upstream: a redirect to its download when it has the package."""
        found = self._find(request, missing)
        if isinstance(found, Package) or found.status != 404:
            return found
        name, version = request.params["name"], request.params["version"]
        if self._ctx.holder.current.catalog.lookup(name, version) is not None:
            storage = self._ctx.storage
            if storage is None or suffix == ".tar.gz":
                return found  # known here, only without files
            url = storage.artifact_url(name, version, suffix)
            relayed = await storage.relay(request.method, url, self._headers)
            component = "artifacts" if suffix == ".zip" else "signatures"
            relayed.storage_request = ("remote", component)
            return relayed
        upstream = self._ctx.upstream
        if upstream is None:
            return found
        remote = await find_upstream(upstream, name, version)
        if remote is None:
            return found
        if isinstance(remote, Response):
            return remote
        location = upstream.download_url(remote.name, remote.version, suffix)
        return moved_permanently(request.method, location, self._headers)

    async def artifact(self, request: Request) -> Response:
        package = self._find(request, "artifact not found")
        if isinstance(package, Response):
            return package
        return await self._artifact(request, package)

    async def artifact_with_proxy(self, request: Request) -> Response:
        package = await self._find_with_proxy(request, "artifact not found", ".zip")
        if isinstance(package, Response):
            return package
        return await self._artifact(request, package)

    async def _artifact(self, request: Request, package: Package) -> Response:
        response = await self._artifact_file(request, package)
        response.storage_request = ("local", "artifacts")
        return response

    async def _artifact_file(self, request: Request, package: Package) -> Response:
        files = package.files
        assert files is not None
        headers = list(self._headers)
        try:
            if files.kind == "zip":
                content = self._file_content(files.location, ZIP_TYPE)
                return serve_content(request.method, request.headers, content, headers)
            top = f"{package.name}-{package.version}"
            path = await self._ctx.archives.get(
                self._generation(), files.location, ".zip", functools.partial(write_zip, files, top)
            )
            return _whole_file(self._file_content(path, ZIP_TYPE), headers)
        except OSError:
            return internal_error(headers)

    def _generation(self) -> int:
        """The catalog generation: built archives are checked against their folder's
        files once per generation (a reload may have changed them)."""
        return self._ctx.holder.current.catalog.generation

    async def tarball(self, request: Request) -> Response:
        package = self._find(request, "artifact not found")
        if isinstance(package, Response):
            return package
        return await self._tarball(request, package)

    async def tarball_with_proxy(self, request: Request) -> Response:
        package = await self._find_with_proxy(request, "artifact not found", ".tar.gz")
        if isinstance(package, Response):
            return package
        return await self._tarball(request, package)

    async def _tarball(self, request: Request, package: Package) -> Response:
        files = package.files
        assert files is not None
        top = f"{package.name}-{package.version}"
        build = functools.partial(write_targz, files, top)
        headers = list(self._headers)
        try:
            path = await self._ctx.archives.get(
                self._generation(), files.location, ".tar.gz", build
            )
            return serve_content(
                request.method, request.headers, self._file_content(path, TARGZ_TYPE), headers
            )
        except OSError:
            return internal_error(headers)

    def signature(self, request: Request) -> Response:
        package = self._find(request, "signature file not found")
        if isinstance(package, Response):
            return package
        return self._signature(request, package)

    async def signature_with_proxy(self, request: Request) -> Response:
        package = await self._find_with_proxy(request, "signature file not found", ".zip.sig")
        if isinstance(package, Response):
            return package
        return self._signature(request, package)

    def _signature(self, request: Request, package: Package) -> Response:
        files = package.files
        assert files is not None
        headers = list(self._headers)
        sig = files.signature or files.location + ".sig"
        try:
            content = self._file_content(sig, SIG_TYPE)
        except (FileNotFoundError, NotADirectoryError):
            # Unsigned packages are allowed with -require-package-signatures=false; the
            # reference's stat error would be a 500, a missing file is a 404 here.
            return not_found("signature file not found")
        except OSError:
            response = internal_error()
        else:
            response = serve_content(request.method, request.headers, content, headers)
        response.storage_request = ("local", "signatures")
        return response


def _whole_file(content: Content, headers: list[tuple[bytes, bytes]]) -> Response:
    """A built archive: 200 with its length, never ranges (as the reference)."""
    headers = [*headers, (b"content-type", content.content_type.encode())]
    if content.data is not None:
        return Response(
            200, headers, content.data, length=content.size, replayable=True, revalidate=True
        )
    return Response(200, headers, file_path=content.path, length=content.size)


def _reader(path: str) -> Callable[[], bytes]:
    def read() -> bytes:
        with open(path, "rb") as handle:
            return handle.read()

    return read

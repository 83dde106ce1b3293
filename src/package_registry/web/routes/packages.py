"""``/package/{name}/{version}/`` and every file inside a package.

The package document is rendered once per catalog snapshot and cached; files are
served with ``Last-Modified``, conditional and range requests, straight from disk or
from inside the package's zip. Request paths go through ``safe_relpath`` so nothing
outside the package can be reached.
"""

from __future__ import annotations

import logging

from package_registry.packages.files import safe_relpath
from package_registry.packages.render import render_json
from package_registry.packages.versions import Version, VersionError
from package_registry.web.mime import content_type_for, needs_sniffing
from package_registry.web.request import Context, Request
from package_registry.web.responses import (
    JSON_TYPE,
    Content,
    Response,
    bad_request,
    cache_headers,
    internal_error,
    not_found,
    serve_content,
    text_error,
)

log = logging.getLogger("package_registry.http")


def valid_version(text: str) -> bool:
    """Versions in URLs must be strict semver (the reference answers 400 otherwise)."""
    try:
        Version.parse_strict(text)
    except VersionError:
        return False
    return True


class PackageRoutes:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._index_headers = cache_headers(ctx.cache_times.index)
        self._file_headers = cache_headers(ctx.cache_times.catch_all)

    def package_index(self, request: Request) -> Response:
        name, version = request.params["name"], request.params["version"]
        if not valid_version(version):
            return bad_request("invalid package version")
        snapshot = self._ctx.holder.current
        package = snapshot.catalog.lookup(name, version)
        if package is None:
            return not_found("package revision not found")
        answer = snapshot.cache.get_or_compute(
            ("package", name, version), lambda: render_json(package.full)
        )
        headers = [*self._index_headers, JSON_TYPE]
        return Response(200, headers, answer.body, length=len(answer.body))

    def static(self, request: Request) -> Response:
        name, version = request.params["name"], request.params["version"]
        if not valid_version(version):
            return bad_request("invalid package version")
        package = self._ctx.holder.current.catalog.lookup(name, version)
        if package is None:
            return not_found("package revision not found")
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
        head = None
        if needs_sniffing(relpath):
            with files.open(relpath) as handle:
                head = handle.read(512)
        content = Content(
            size=info.size,
            mtime=info.mtime,
            content_type=content_type_for(relpath, head),
            open=lambda: files.open(relpath),
            path=files.local_path(relpath),
        )
        return serve_content(request.method, request.headers, content, headers)

"""``-static-path``: the routes without query parameters answered from a built tree.

``package-registry build --format static`` writes each such answer as a file named by
its URL path. Serving one is a ``stat`` and a zero-copy send, with the headers the route
itself gives (content type, Cache-Control, conditional and range requests through
``serve_content``; ``Last-Modified`` is the file's time, which the build sets to the
source's). A URL whose file the tree lacks (a package added since the build, or none at
all) is left to the route's own handler, so errors keep the registry's texts.

The file is named from the route's parameters, never from the raw path: a version must be
a strict semver, a file path inside a package passes ``safe_relpath``, and the resolved
path must still be inside the tree (links included), so no request reaches outside it.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable

from package_registry.packages.files import safe_relpath
from package_registry.packages.versions import is_strict_version
from package_registry.web.request import CacheTimes, Request
from package_registry.web.responses import Response, cache_headers, disk_file, serve_content

Handler = Callable[[Request], Response | Awaitable[Response]]

#: Routes served from the tree.
ROUTES = frozenset(
    ("index", "favicon", "package_index", "static", "artifact", "signature", "tarball")
)
_DOWNLOAD_SUFFIX = {"artifact": ".zip", "signature": ".zip.sig", "tarball": ".tar.gz"}
#: Answers the registry renders in memory carry no ``Last-Modified`` (a zero time).
_RENDERED = frozenset(("index", "favicon", "package_index"))
#: How ``epr_storage_requests_total`` counts the files the routes serve.
_COMPONENT = {"static": "statics", "artifact": "artifacts", "signature": "signatures"}


class StaticTree:
    """A folder written by ``package-registry build --format static``."""

    def __init__(self, root: str, cache_times: CacheTimes) -> None:
        self.root = os.path.realpath(root)
        index = cache_headers(cache_times.index)
        files = cache_headers(cache_times.catch_all)
        #: Cache-Control lines by route.
        self._headers = {
            name: index if name in ("index", "package_index") else files for name in ROUTES
        }

    def relpath(self, route: str, params: dict[str, str]) -> str | None:
        """The tree file answering ``route`` with ``params``; ``None`` when it has none."""
        if route == "index":
            return "index.json"
        if route == "favicon":
            return "favicon.ico"
        name, version = params["name"], params["version"]
        if not is_strict_version(version):
            return None
        if route == "package_index":
            return safe_relpath(f"package/{name}/{version}/index.json")
        if route == "static":
            inside = safe_relpath(params["file"])
            if inside is None or inside == "index.json":
                return None
            return safe_relpath(f"package/{name}/{version}/{inside}")
        return safe_relpath(f"epr/{name}/{name}-{version}{_DOWNLOAD_SUFFIX[route]}")

    def locate(self, relpath: str) -> str | None:
        """The real path of ``relpath`` when it is a regular file inside the tree."""
        path = os.path.realpath(os.path.join(self.root, relpath))
        if not path.startswith(self.root + os.sep) or not os.path.isfile(path):
            return None
        return path

    def respond(self, route: str, request: Request) -> Response | None:
        """The answer from the tree, or ``None`` to let the route's handler answer."""
        relpath = self.relpath(route, request.params)
        path = None if relpath is None else self.locate(relpath)
        if relpath is None or path is None:
            return None
        try:
            content = disk_file(path, relpath, 0.0 if route in _RENDERED else None)
        except OSError:
            return None
        response = serve_content(request.method, request.headers, content, self._headers[route])
        if route in _COMPONENT:
            response.storage_request = ("local", _COMPONENT[route])
        return response

    def serving(self, route: str, handler: Handler) -> Handler:
        """``handler`` answering from the tree first."""
        respond = self.respond
        if inspect.iscoroutinefunction(handler):

            async def from_tree_async(request: Request) -> Response:
                found = respond(route, request)
                return found if found is not None else await handler(request)  # type: ignore[misc]

            return from_tree_async

        def from_tree(request: Request) -> Response:
            found = respond(route, request)
            return found if found is not None else handler(request)  # type: ignore[return-value]

        return from_tree

"""``/``, ``/index.json``, ``/health``, ``/favicon.ico`` and ``/openapi.json``: answers
fixed at start-up."""

from __future__ import annotations

from importlib import resources

from package_registry.packages.render import render_json
from package_registry.web.request import Context, Request
from package_registry.web.responses import JSON_TYPE, Response, cache_headers

_WEB = resources.files("package_registry.web")
#: The ``/favicon.ico`` body.
FAVICON = _WEB.joinpath("favicon.ico").read_bytes()
#: The OpenAPI 3.1 description of the routes (docs/openapi.json holds the same bytes).
OPENAPI = _WEB.joinpath("openapi.json").read_bytes()


def service_index(service_name: str, service_version: str) -> bytes:
    """The ``/`` and ``/index.json`` body: the service's name and version."""
    return render_json({"service.name": service_name, "service.version": service_version})


class InfoRoutes:
    """Pre-built bodies for the routes whose answers never change while running."""

    def __init__(self, ctx: Context) -> None:
        self._index_body = service_index(ctx.service_name, ctx.service_version)
        self._index_headers = [*cache_headers(ctx.cache_times.index), JSON_TYPE]
        self._favicon_headers = [
            *cache_headers(ctx.cache_times.catch_all),
            (b"content-type", b"image/x-icon"),
        ]
        self._openapi_headers = [*cache_headers(ctx.cache_times.catch_all), JSON_TYPE]

    def index(self, request: Request) -> Response:
        return Response(200, list(self._index_headers), self._index_body, replayable=True)

    def health(self, request: Request) -> Response:
        return Response(200, [], b"")

    def favicon(self, request: Request) -> Response:
        return Response(200, list(self._favicon_headers), FAVICON, replayable=True)

    def openapi(self, request: Request) -> Response:
        return Response(200, list(self._openapi_headers), OPENAPI, replayable=True)

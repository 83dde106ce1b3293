"""The reference's route table and its router's redirect rules.

The reference uses gorilla/mux with path cleaning and StrictSlash: paths are cleaned
(``//a/../b`` → ``/b``) with a bare 301, and a route whose template disagrees with the
request about a trailing slash answers a 301 to the other form. Matching is done on
the decoded path, first route in table order wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from package_registry.gopath import clean_path
from package_registry.gotext import escape_path


@dataclass(frozen=True, slots=True)
class Route:
    """One row of the route table: a name for handlers and metrics, and its pattern."""

    name: str
    #: The template as the reference spells it (the ``path`` label of HTTP metrics).
    template: str
    pattern: re.Pattern[str]

    @property
    def trailing_slash(self) -> bool:
        return self.template.endswith("/")


def _route(name: str, template: str, regex: str) -> Route:
    return Route(name, template, re.compile(regex))


ROUTES: tuple[Route, ...] = (
    _route("index", "/", r"/"),
    _route("index", "/index.json", r"/index\.json/?"),
    _route("search", "/search", r"/search/?"),
    _route("categories", "/categories", r"/categories/?"),
    _route("health", "/health", r"/health/?"),
    _route("favicon", "/favicon.ico", r"/favicon\.ico/?"),
    # Not a route of the reference: this registry's description of the routes above.
    _route("openapi", "/openapi.json", r"/openapi\.json/?"),
    _route(
        "artifact",
        "/epr/{packageName}/{packageName:[a-z0-9_]+}-{packageVersion}.zip",
        r"/epr/[^/]+/(?P<name>[a-z0-9_]+)-(?P<version>[^/]+)\.zip/?",
    ),
    _route(
        "signature",
        "/epr/{packageName}/{packageName:[a-z0-9_]+}-{packageVersion}.zip.sig",
        r"/epr/[^/]+/(?P<name>[a-z0-9_]+)-(?P<version>[^/]+)\.zip\.sig/?",
    ),
    _route(
        "tarball",
        "/epr/{packageName}/{packageName:[a-z0-9_]+}-{packageVersion}.tar.gz",
        r"/epr/[^/]+/(?P<name>[a-z0-9_]+)-(?P<version>[^/]+)\.tar\.gz/?",
    ),
    _route(
        "package_index",
        "/package/{packageName:[a-z0-9_]+}/{packageVersion}/",
        r"/package/(?P<name>[a-z0-9_]+)/(?P<version>[^/]+)/?",
    ),
    _route(
        "static",
        "/package/{packageName}/{packageVersion}/{name:.*}",
        r"/package/(?P<name>[^/]+)/(?P<version>[^/]+)/(?P<file>.*?)/?",
    ),
)

#: The HTML browse pages (``-browse``), under a prefix the reference answers 404 to, after
#: every route of the reference so none of its answers changes. Pages of the UI itself sit
#: under ``/browse/-/``: ``-`` is never in a package name, so they cannot hide a package.
BROWSE_ROUTES: tuple[Route, ...] = (
    _route("browse_list", "/browse/", r"/browse/?"),
    _route("browse_categories", "/browse/-/categories/", r"/browse/-/categories/?"),
    _route("browse_style", "/browse/-/style.css", r"/browse/-/style\.css/?"),
    _route(
        "browse_latest",
        "/browse/{packageName}/",
        r"/browse/(?P<name>[a-z0-9_]+)/?",
    ),
    _route(
        "browse_package",
        "/browse/{packageName}/{packageVersion}/",
        r"/browse/(?P<name>[a-z0-9_]+)/(?P<version>[^/]+)/?",
    ),
)


#: Publishing (``-publish-tokens-file`` with ``-publish-path``): under a prefix the
#: reference answers 404 to; the handlers answer 405 to other methods.
PUBLISH_ROUTES: tuple[Route, ...] = (
    _route("publish", "/api/v1/packages", r"/api/v1/packages"),
    _route(
        "unpublish",
        "/api/v1/packages/{packageName}/{packageVersion}",
        r"/api/v1/packages/(?P<name>[^/]+)/(?P<version>[^/]+)",
    ),
)


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class Redirect:
    """A 301; ``bare`` ones (path cleaning) carry no body and bypass the middleware."""

    location: str
    bare: bool
    #: For StrictSlash redirects, the route's template (they count in its metrics).
    template: str = ""


def _with_query(path: str, query: str) -> str:
    location = escape_path(path)
    return f"{location}?{query}" if query else location


def resolve(path: str, query: str, routes: tuple[Route, ...] = ROUTES) -> Match | Redirect | None:
    """Route a decoded request path through ``routes``: a match, a redirect, or ``None``
    (404)."""
    cleaned = _clean_request_path(path)
    if cleaned != path:
        return Redirect(_with_query(cleaned, query), bare=True)
    for route in routes:
        found = route.pattern.fullmatch(path)
        if found is None:
            continue
        if path.endswith("/") != route.trailing_slash:
            target = path + "/" if route.trailing_slash else path[:-1]
            return Redirect(_with_query(target, query), bare=False, template=route.template)
        return Match(route, found.groupdict())
    return None


def _clean_request_path(path: str) -> str:
    if not path:
        return "/"
    if not path.startswith("/"):
        path = "/" + path
    cleaned = clean_path(path)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned

"""``/browse/``: HTML pages for people, rendered on the server from the API's catalog.

The pages read the same catalog snapshot and the same ``/search`` filters as the API
(``queries/browse.py``), rendered with Jinja2 (autoescaping on: every package field and
every query value is text). READMEs go through ``markdown.render_readme``. A rendered
page is kept in the snapshot's answer cache like an API answer (bounded by bytes, ETag,
gzip), so a page costs one render per catalog; the list is cut into pages and READMEs
are read up to ``README_MAX`` bytes, so no request renders an unbounded amount. Pages not
cached yet are rendered by one thread per worker: a large README takes a good part of a
second of CPU (a crafted one of ``README_MAX`` bytes up to a few), which must neither
stall the event loop nor run many times at once.

Headers forbid scripts and outside resources altogether (``Content-Security-Policy``):
the pages need none, and a README that slipped something through could not run it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from package_registry.catalog.holder import Snapshot
from package_registry.catalog.snapshot import Catalog
from package_registry.packages.model import Package
from package_registry.packages.versions import is_strict_version
from package_registry.queries.browse import (
    PAGE_SIZE,
    ListQuery,
    category_rows,
    category_title,
    latest_version,
    list_page,
    parse_list_query,
    versions_of,
)
from package_registry.queries.cache import AnswerCache
from package_registry.queries.params import InvalidQuery
from package_registry.queries.search import QueryFailed
from package_registry.web.browse.markdown import render_readme
from package_registry.web.request import Context, Request
from package_registry.web.responses import NO_CACHE, NOSNIFF, Headers, Response, cache_headers
from package_registry.web.routes.search import cached_response

__all__ = ["README_MAX", "BrowseRoutes"]

#: README bytes rendered; a longer README is cut there, with a link to the whole file.
README_MAX = 256 * 1024

# Started on first use, in the worker process (never before the fork).
_RENDERER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="package-registry-browse")

HTML_TYPE = (b"content-type", b"text/html; charset=utf-8")
CSS_TYPE = (b"content-type", b"text/css; charset=utf-8")
PAGE_HEADERS: Headers = [
    HTML_TYPE,
    NOSNIFF,
    (
        b"content-security-policy",
        b"default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
        b"base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"referrer-policy", b"same-origin"),
]
PACKAGE_TYPES = ("integration", "input", "content")


def _local(path: object) -> str | None:
    """A same-origin absolute path from a package document, else ``None`` (documents
    from storage buckets and upstreams are not checked at load; browsers read ``/\\``
    as ``//``, another host)."""
    if isinstance(path, str) and path.startswith("/") and path[1:2] not in ("/", "\\"):
        return path
    return None


def _images(items: object) -> list[dict[str, str]]:
    """Icons or screenshots of a package document that point into the registry."""
    out = []
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and (path := _local(item.get("path"))):
            out.append({"path": path, "title": str(item.get("title") or "")})
    return out


def _kibana(package: Package) -> str:
    conditions = package.full.get("conditions") or {}
    return str((conditions.get("kibana") or {}).get("version") or "")


def _summary(package: Package) -> dict[str, Any]:
    """What the list shows of one package."""
    icons = _images(package.full.get("icons"))
    return {
        "name": package.name,
        "title": str(package.full.get("title") or package.name),
        "description": str(package.full.get("description") or ""),
        "version": package.version,
        "release": package.release,
        "type": package.type,
        "icon": icons[0] if icons else None,
        "categories": [(c, category_title(c)) for c in package.categories],
    }


def _read_readme(package: Package) -> tuple[str, bool] | None:
    """The README's text (at most ``README_MAX`` bytes) and whether it was cut; ``None``
    when the files are elsewhere (storage, upstream) or unreadable."""
    files = package.files
    if files is None or not package.full.get("readme"):
        return None
    try:
        if files.stat("docs/README.md") is None:
            return None
        with files.open("docs/README.md") as handle:
            data = handle.read(README_MAX + 1)
    except OSError:
        return None
    cut = len(data) > README_MAX
    return data[:README_MAX].decode("utf-8", "replace"), cut


def _detail(package: Package, versions: list[Package]) -> dict[str, Any]:
    """What a package page shows."""
    doc = package.full
    owner = doc.get("owner") or {}
    github = str(owner.get("github") or "")
    readme_path = _local(doc.get("readme"))
    read = _read_readme(package)
    readme_html = None
    if read is not None and readme_path is not None:
        readme_html = Markup(render_readme(read[0], readme_path))
    templates = []
    for template in doc.get("policy_templates") or ():
        inputs = template.get("inputs") or ()
        templates.append(
            {
                "title": str(template.get("title") or template.get("name") or ""),
                "description": str(template.get("description") or ""),
                "inputs": [str(i.get("title") or i.get("type") or "") for i in inputs],
            }
        )
    streams = [
        {
            "title": str(stream.get("title") or ""),
            "type": str(stream.get("type") or ""),
            "dataset": str(stream.get("dataset") or ""),
        }
        for stream in doc.get("data_streams") or ()
    ]
    return {
        **_summary(package),
        "screenshots": _images(doc.get("screenshots")),
        "owner": str(owner.get("type") or ""),
        "github": github,
        "github_url": "https://github.com/" + quote(github, safe="/") if github else "",
        "license": str((doc.get("source") or {}).get("license") or ""),
        "kibana": _kibana(package),
        "download": _local(doc.get("download")),
        "signature": _local(doc.get("signature_path")),
        "readme_path": readme_path,
        "readme_html": readme_html,
        "readme_cut": read is not None and read[1],
        "policy_templates": templates,
        "data_streams": streams,
        "versions": [
            {"version": v.version, "release": v.release, "kibana": _kibana(v)} for v in versions
        ],
    }


class BrowseRoutes:
    """Handlers of the ``/browse/`` routes (``router.BROWSE_ROUTES``)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._env = Environment(
            loader=PackageLoader("package_registry.web.browse"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._headers = [*cache_headers(ctx.cache_times.index), *PAGE_HEADERS]
        self._style = (files("package_registry.web.browse") / "style.css").read_bytes()

    def _render(self, template: str, **values: Any) -> bytes:
        return self._env.get_template(template).render(**values).encode()

    async def _page(
        self,
        request: Request,
        snapshot: Snapshot[AnswerCache],
        key: tuple[object, ...],
        render: Callable[[Catalog], bytes],
    ) -> Response:
        """A page from the snapshot's answer cache, rendered on its first request (in
        the render thread, where a request that waited for the same page finds it)."""
        cache = snapshot.cache
        answer = cache.get(key)
        if answer is None:
            answer = await asyncio.get_running_loop().run_in_executor(
                _RENDERER, cache.get_or_compute, key, lambda: render(snapshot.catalog)
            )
        response = cached_response(request, answer, self._headers)
        response.replayable = True
        return response

    def _error(self, status: int, message: str) -> Response:
        body = self._render("message.html", title=message, message=message)
        return Response(status, [*NO_CACHE, *PAGE_HEADERS], body, length=len(body))

    async def package_list(self, request: Request) -> Response:
        try:
            query = parse_list_query(request.query)
        except InvalidQuery as err:
            return self._error(400, err.message)
        snapshot = self._ctx.holder.current
        try:
            return await self._page(
                request, snapshot, query.cache_key(), lambda catalog: self._list(catalog, query)
            )
        except QueryFailed as err:
            return self._error(404, err.message)

    def _list(self, catalog: Catalog, query: ListQuery) -> bytes:
        page = list_page(catalog, query)
        filters: Mapping[str, str] = {**query.values, **({"q": query.text} if query.text else {})}

        def link(number: int) -> str:
            return "/browse/?" + urlencode({**filters, "page": str(number)})

        return self._render(
            "list.html",
            title="Packages",
            packages=[_summary(p) for p in page.packages],
            page=page,
            page_size=PAGE_SIZE,
            previous=link(page.page - 1) if page.page > 1 else None,
            next=link(page.page + 1) if page.page < page.pages else None,
            values=query.values,
            prerelease=query.search.prerelease,
            text=query.text,
            categories=category_rows(catalog),
            types=PACKAGE_TYPES,
        )

    async def categories(self, request: Request) -> Response:
        return await self._page(
            request,
            self._ctx.holder.current,
            ("browse-categories",),
            lambda catalog: self._render(
                "categories.html", title="Categories", rows=category_rows(catalog)
            ),
        )

    async def latest(self, request: Request) -> Response:
        snapshot = self._ctx.holder.current
        package = latest_version(snapshot.catalog, request.params["name"])
        if package is None:
            return self._error(404, "package not found")
        return await self._package(request, snapshot, package)

    async def package(self, request: Request) -> Response:
        name, version = request.params["name"], request.params["version"]
        snapshot = self._ctx.holder.current
        package = snapshot.catalog.lookup(name, version) if is_strict_version(version) else None
        if package is None:
            return self._error(404, "package revision not found")
        return await self._package(request, snapshot, package)

    async def _package(
        self, request: Request, snapshot: Snapshot[AnswerCache], package: Package
    ) -> Response:
        def render(catalog: Catalog) -> bytes:
            detail = _detail(package, versions_of(catalog, package.name))
            return self._render("package.html", title=detail["title"], p=detail)

        key = ("browse-package", package.name, package.version)
        return await self._page(request, snapshot, key, render)

    def style(self, request: Request) -> Response:
        headers = [*cache_headers(self._ctx.cache_times.catch_all), CSS_TYPE, NOSNIFF]
        return Response(200, headers, self._style, length=len(self._style), replayable=True)

"""What the HTML browse pages show, read from the same catalog and filters as ``/search``.

The package list is the ``/search`` selection for the form's filters (one entry per
name, its latest version passing them), narrowed by a text filter on name and title and
cut into pages so no request renders more than ``PAGE_SIZE`` entries. A package page
shows one version and every version of that name. Nothing here renders HTML.
"""

from __future__ import annotations

from dataclasses import dataclass

from package_registry.catalog.snapshot import Catalog
from package_registry.packages.model import Package
from package_registry.packages.tables import CATEGORIES
from package_registry.queries.categories import category_counts
from package_registry.queries.params import (
    CategoriesQuery,
    SearchQuery,
    parse_query_string,
    parse_search_query,
)
from package_registry.queries.search import search_entries

__all__ = [
    "PAGE_SIZE",
    "CategoryRow",
    "ListPage",
    "ListQuery",
    "category_rows",
    "category_title",
    "latest_version",
    "list_page",
    "parse_list_query",
    "versions_of",
]

#: Packages per page of the list.
PAGE_SIZE = 48
#: Longest text filter kept; longer input is cut (no package title is that long).
MAX_TEXT = 100
#: The ``/search`` parameters the list form offers, as ``/search`` spells them.
FORM_FILTERS = ("kibana.version", "category", "type", "prerelease")


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The list form: ``/search`` filters, a text filter and a page number (from 1)."""

    search: SearchQuery
    #: The filter values as given (for the form and the page links), empty when absent.
    values: dict[str, str]
    text: str
    page: int

    def cache_key(self) -> tuple[object, ...]:
        return ("browse-list", self.search.cache_key(), self.text.casefold(), self.page)


def parse_list_query(raw_query: str) -> ListQuery:
    """The list form's query string; other parameters are ignored.

    Raises ``InvalidQuery`` with ``/search``'s text for a bad filter value.
    """
    params = parse_query_string(raw_query)
    values = {key: params[key][0] for key in FORM_FILTERS if params.get(key)}
    search = parse_search_query({key: [value] for key, value in values.items()})
    text = (params.get("q") or [""])[0].strip()[:MAX_TEXT]
    page_text = (params.get("page") or ["1"])[0]
    # Past the last page means the last page; nine digits are plenty for that.
    page = int(page_text[:9]) if page_text.isascii() and page_text.isdigit() else 1
    return ListQuery(search, values, text, max(page, 1))


@dataclass(frozen=True, slots=True)
class ListPage:
    packages: list[Package]
    #: Packages matching the filters, on every page.
    total: int
    page: int
    pages: int


def _matches(package: Package, folded: str) -> bool:
    title = package.full.get("title")
    return folded in package.name or (isinstance(title, str) and folded in title.casefold())


def list_page(catalog: Catalog, query: ListQuery) -> ListPage:
    """One page of the packages ``/search`` selects for the filters, narrowed by text.

    Raises ``QueryFailed`` as ``/search`` does.
    """
    packages = [entry.package for entry in search_entries(catalog, query.search)]
    if query.text:
        folded = query.text.casefold()
        packages = [package for package in packages if _matches(package, folded)]
    pages = max(1, -(-len(packages) // PAGE_SIZE))
    page = min(query.page, pages)
    start = (page - 1) * PAGE_SIZE
    return ListPage(packages[start : start + PAGE_SIZE], len(packages), page, pages)


def latest_version(catalog: Catalog, name: str) -> Package | None:
    """The version ``/search?package=<name>`` returns (internal ones included), or the
    newest prerelease when the name has only prereleases."""
    for prerelease in (False, True):
        found = search_entries(
            catalog, SearchQuery(package=name, prerelease=prerelease, internal=True)
        )
        if found:
            return found[0].package
    return None


def versions_of(catalog: Catalog, name: str) -> list[Package]:
    """Every version of ``name`` (the first source's copy of each), newest first."""
    return sorted(
        (group[0].package for group in catalog.groups(name)),
        key=lambda package: package.semver,
        reverse=True,
    )


def category_title(category: str) -> str:
    known = CATEGORIES.get(category)
    return known.title if known is not None else category


@dataclass(frozen=True, slots=True)
class CategoryRow:
    id: str
    title: str
    count: int
    #: Shown under its parent; ``None`` for a top-level category.
    parent: str | None


def category_rows(catalog: Catalog) -> list[CategoryRow]:
    """``/categories``' counts (default filters), parents first, each followed by its
    subcategories, by title."""
    counts = category_counts(catalog, CategoriesQuery())
    rows: dict[str, CategoryRow] = {}
    for cid, item in counts.items():
        known = CATEGORIES.get(cid)
        parent = known.parent if known is not None and known.parent in counts else None
        rows[cid] = CategoryRow(cid, category_title(cid), item.count, parent)
    top = sorted(
        (row for row in rows.values() if row.parent is None), key=lambda row: row.title.casefold()
    )
    ordered: list[CategoryRow] = []
    for row in top:
        ordered.append(row)
        children = [r for r in rows.values() if r.parent == row.id]
        ordered += sorted(children, key=lambda r: r.title.casefold())
    return ordered

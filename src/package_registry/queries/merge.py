"""Proxy mode: local answers joined with what an upstream registry returned.

``/search`` joins the local selection with the upstream packages local-first (a local
package wins over an upstream one with the same name and version), reduces the result
to the latest version per name unless ``all=true`` (plain semver order, as the reference's
``latestPackagesVersion``), and sorts it by name, then version. ``/categories`` adds the
upstream counts to the local ones; categories only the upstream knows keep its title and
parent fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from package_registry.catalog.snapshot import Entry
from package_registry.packages.documents import indent_fragment
from package_registry.packages.jsonmodel import RemoteCategory
from package_registry.packages.model import Package
from package_registry.packages.render import render_json
from package_registry.packages.versions import Version
from package_registry.queries.categories import CategoryCount
from package_registry.queries.params import SearchQuery
from package_registry.queries.search import render_search

__all__ = ["merge_categories", "merge_search"]

#: One /search item while merging: name, version text, parsed version, rendered item.
_Item = tuple[str, str, Version, bytes]


def _join(local: Iterable[_Item], remote: Sequence[Package], internal: bool) -> list[_Item]:
    """Local items, then each upstream package whose name and version are not there yet.

    Upstream packages marked internal are left out unless ``internal`` (the query's
    ``internal=true``), the rule the local selection follows too.
    """
    items = list(local)
    seen = {(name, version) for name, version, _, _ in items}
    for package in remote:
        if package.key in seen or (package.internal and not internal):
            continue
        seen.add(package.key)
        fragment = indent_fragment(render_json(package.summary))
        items.append((package.name, package.version, package.semver, fragment))
    return items


def _latest(items: list[_Item]) -> list[_Item]:
    """The newest version of each name by plain semver order (a prerelease can win); on
    equal versions the earlier item (local before upstream) wins."""
    best: dict[str, _Item] = {}
    for item in items:
        current = best.get(item[0])
        if current is None or item[2] > current[2]:
            best[item[0]] = item
    return list(best.values())


def merge_search(query: SearchQuery, local: Iterable[Entry], remote: Sequence[Package]) -> bytes:
    """The /search body for ``query``: the ``local`` selection (``search_entries`` of the
    same query) with the upstream packages ``remote`` merged in."""
    category = query.category
    items = _join(
        (
            (entry.name, entry.package.version, entry.package.semver, entry.fragment(category))
            for entry in local
        ),
        remote,
        query.internal,
    )
    if not query.all:
        items = _latest(items)
    items.sort(key=lambda item: (item[0], item[2]))  # stable: ties keep join order
    return render_search([item[3] for item in items])


def merge_categories(
    counts: dict[str, CategoryCount], remote: Iterable[RemoteCategory]
) -> dict[str, CategoryCount]:
    """Add upstream categories to local ``counts`` (changed in place and returned).

    A category already present gets the upstream count added; a new one is taken with
    its upstream title and parent fields (``render_categories`` then looks titles up by
    the current title, so upstream titles usually stay).
    """
    for category_id, title, count, parent_id, parent_title in remote:
        known = counts.get(category_id)
        if known is None:
            counts[category_id] = CategoryCount(category_id, title, count, parent_id, parent_title)
        else:
            known.count += count
    return counts

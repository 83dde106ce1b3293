"""``/categories``: how many of the latest packages fall in each category.

The packages are those ``/search`` would return for the same filters (latest version per
name, no category filter); the counting rules, including the odd extra counts with
``include_policy_templates=true`` (the reference's ``getCategories``), are pre-computed
per package at build time.
Titles and parents come from the built-in categories table, looked up by current title.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from package_registry.catalog.snapshot import Catalog
from package_registry.packages.render import render_json
from package_registry.packages.tables import CATEGORIES
from package_registry.queries.params import CategoriesQuery
from package_registry.queries.search import Selector, latest_entries

__all__ = ["CategoryCount", "categories", "category_counts", "render_categories"]


@dataclass(slots=True)
class CategoryCount:
    """One /categories item before titles are resolved (mutable: proxy answers add up)."""

    id: str
    title: str
    count: int
    parent_id: str = ""
    parent_title: str = ""


def category_counts(catalog: Catalog, query: CategoriesQuery) -> dict[str, CategoryCount]:
    """Counts per category id over the latest packages matching ``query``.

    Raises ``QueryFailed`` (answered 404 with its raw text) when spec bounds meet a
    package without spec version.
    """
    selector = Selector(catalog, query, None)
    selector.check_unspecified(None)
    counts: dict[str, CategoryCount] = {}
    with_templates = query.include_policy_templates
    for entry in latest_entries(selector, catalog.names, None):
        for category, n in entry.counts_with_templates if with_templates else entry.counts:
            item = counts.get(category)
            if item is None:
                counts[category] = CategoryCount(category, category, n)
            else:
                item.count += n
    return counts


def render_categories(counts: Mapping[str, CategoryCount]) -> bytes:
    """The /categories body: items sorted by id, titles and parents from the table.

    The table is looked up by the item's current title, as the reference does: that is the
    id for locally counted categories, but the upstream's human title for categories only
    an upstream registry knows, which therefore keep the upstream's title and parents.
    """
    items: list[dict[str, Any]] = []
    for key in sorted(counts):
        item = counts[key]
        title, parent_id, parent_title = item.title, item.parent_id, item.parent_title
        known = CATEGORIES.get(item.title)
        if known is not None:
            title = known.title
            if known.parent is not None:
                parent_id = known.parent
                parent_title = CATEGORIES[known.parent].title
        out: dict[str, Any] = {"id": item.id, "title": title, "count": item.count}
        if parent_id:
            out["parent_id"] = parent_id
        if parent_title:
            out["parent_title"] = parent_title
        items.append(out)
    return render_json(items)


def categories(catalog: Catalog, query: CategoriesQuery) -> bytes:
    """The /categories answer for ``query``, byte for byte as the reference writes it."""
    return render_categories(category_counts(catalog, query))

"""The JSON a package is served as, held in memory or read from the persistent catalog.

A ``Package`` answers queries from its few typed fields; its two documents (the
``/package/{name}/{version}/`` document and the ``/search`` item) are needed only when an
answer is rendered. ``InlineDocuments`` keeps them as dictionaries, as they were loaded;
the persistent catalog supplies another implementation that reads the pre-rendered bytes
from its database, so that a catalog of tens of thousands of versions does not hold them
all in every process.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from package_registry.packages.render import render_json
from package_registry.packages.tables import CATEGORIES

__all__ = [
    "Documents",
    "InlineDocuments",
    "category_closure",
    "indent_fragment",
    "pruned_item",
]


class Documents(Protocol):
    """What a package is rendered from."""

    def full(self) -> dict[str, Any]:
        """The package document (reference key order; numbers as pre-rendered fragments)."""

    def summary(self) -> dict[str, Any]:
        """The /search item."""

    def full_json(self) -> bytes:
        """The package document as served."""

    def fragment(self) -> bytes:
        """The /search item rendered at array depth (ready to join with ``b",\\n"``)."""

    def pruned(self, category: str) -> bytes:
        """``fragment`` with only the policy templates listing ``category`` (see
        ``pruned_item``)."""


def indent_fragment(rendered: bytes) -> bytes:
    """Indent a rendered JSON value by one level so it can sit inside a top-level array."""
    return b"\n".join(b"  " + line for line in rendered.rstrip(b"\n").split(b"\n"))


def category_closure(categories: Iterable[str]) -> frozenset[str]:
    """Every X for which the reference's ``hasCategory(categories, X)`` is true: the ids
    themselves and the parents of the subcategories among them."""
    out = set()
    for category in categories:
        out.add(category)
        known = CATEGORIES.get(category)
        if known is not None and known.parent is not None:
            out.add(known.parent)
    return frozenset(out)


def pruned_item(
    summary: dict[str, Any], template_categories: Iterable[tuple[str, ...] | None], category: str
) -> dict[str, Any]:
    """The search item keeping only the policy templates listing ``category``.

    This is the copy the reference returns for a package that matched a category filter
    only through its policy templates (``filterCategories`` in packages/packages.go).
    Templates must list the category itself, so a package matched through a subcategory
    loses them all and the key disappears, as in the reference. ``template_categories``
    are the templates' ``categories``, in order.
    """
    pruned = dict(summary)
    items = pruned.get("policy_templates") or []
    kept = [
        item
        for item, categories in zip(items, template_categories, strict=False)
        if categories is not None and category in categories
    ]
    if kept:
        pruned["policy_templates"] = kept
    else:
        pruned.pop("policy_templates", None)
    return pruned


class InlineDocuments:
    """Documents held as loaded; the rendered forms are made on first use and kept."""

    __slots__ = ("_fragment", "_full", "_summary", "_templates")

    def __init__(
        self,
        full: dict[str, Any],
        summary: dict[str, Any],
        template_categories: tuple[tuple[str, ...] | None, ...] = (),
    ) -> None:
        self._full = full
        self._summary = summary
        self._templates = template_categories
        self._fragment: bytes | None = None

    def __getstate__(self) -> tuple[Any, ...]:
        return (self._full, self._summary, self._templates)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self._full, self._summary, self._templates = state
        self._fragment = None

    def full(self) -> dict[str, Any]:
        return self._full

    def summary(self) -> dict[str, Any]:
        return self._summary

    def full_json(self) -> bytes:
        return render_json(self._full)

    def fragment(self) -> bytes:
        if self._fragment is None:
            self._fragment = indent_fragment(render_json(self._summary))
        return self._fragment

    def pruned(self, category: str) -> bytes:
        return indent_fragment(render_json(pruned_item(self._summary, self._templates, category)))

"""The immutable catalog every query reads: packages grouped, sorted and pre-rendered once.

A ``Catalog`` is built by ``catalog.build.build_catalog`` and never changes afterwards, so
it can be shared by every request without locks and replaced as a whole on reload. It keeps
each source's versions apart, because the reference filters each source on its own before
merging them, and it holds everything a query would otherwise recompute per request.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from package_registry.packages.model import Package
from package_registry.packages.versions import Constraint, Version

__all__ = ["Catalog", "Entry", "Signature", "entry_fragments"]

_generations = itertools.count(1)


def next_generation() -> int:
    """A process-wide unique number for a new catalog (cache keys, logs)."""
    return next(_generations)


@dataclass(frozen=True, slots=True, eq=False)
class Signature:
    """Everything a per-version filter looks at apart from name and version.

    Versions sharing a signature pass or fail every filter together, so a query evaluates
    each signature at most once.
    """

    experimental: bool  # release == "experimental"
    prerelease: bool  # the version has a semver prerelease part
    tech_preview: bool  # major version 0
    kibana: Constraint | None
    agent: Constraint | None
    type: str
    capabilities: tuple[str, ...] | None
    spec: Version | None
    discovery_fields: tuple[str, ...]
    discovery_datasets: tuple[str, ...]
    internal: bool


@dataclass(frozen=True, slots=True, eq=False)
class Entry:
    """One package of one source, with what queries need already computed."""

    package: Package
    #: Position of the source (indexer) in precedence order.
    source: int
    #: Index into ``Catalog.signatures``.
    sig: int
    #: Categories X for which the package itself "has" X (its ids and their parents).
    categories: frozenset[str]
    #: Categories X reached only through a policy template (ids and their parents).
    template_categories: frozenset[str]
    #: /categories contributions of this package, without and with policy templates.
    counts: tuple[tuple[str, int], ...]
    counts_with_templates: tuple[tuple[str, int], ...]

    @property
    def name(self) -> str:
        return self.package.name

    @property
    def version(self) -> Version:
        return self.package.semver

    def fragment(self, category: str | None = None) -> bytes:
        """The /search item rendered at array depth, its policy templates pruned the
        reference's way (``filterPolicyTemplates`` in packages/packages.go) when the
        package matched ``category`` only through one of them."""
        if category is None or category in self.categories:
            return self.package.documents.fragment()
        return self.package.documents.pruned(category)


class Catalog:
    """All packages of all sources, immutable once built.

    Per source and name, versions are kept newest first (ties in discovery order); per
    name, all sources' versions are also grouped by version string in ascending order for
    ``all=true`` answers. Use ``build_catalog`` to make one.
    """

    __slots__ = (
        "_by_key",
        "_firsts",
        "_groups",
        "_newest",
        "by_capability",
        "by_category",
        "by_type",
        "generation",
        "names",
        "signatures",
        "source_count",
        "unspecified",
    )

    def __init__(
        self,
        *,
        signatures: tuple[Signature, ...],
        newest: tuple[Mapping[str, tuple[Entry, ...]], ...],
        firsts: tuple[Mapping[str, tuple[Entry, ...]], ...],
        groups: Mapping[str, tuple[tuple[Entry, ...], ...]],
        by_key: Mapping[tuple[str, str], Entry],
        by_category: Mapping[str, frozenset[str]],
        by_type: Mapping[str, frozenset[str]],
        by_capability: Mapping[str, frozenset[str]],
        unspecified: tuple[tuple[Entry, ...], ...],
    ) -> None:
        self.generation = next_generation()
        self.signatures = signatures
        self.source_count = len(newest)
        #: Every package name, sorted (the /search output order).
        self.names: tuple[str, ...] = tuple(sorted(groups))
        self._newest = newest
        self._firsts = firsts
        self._groups = groups
        self._by_key = by_key
        #: Category id → names with a version that has it (directly, through a
        #: subcategory or through a policy template).
        self.by_category = by_category
        #: Package type → names with a version of that type.
        self.by_type = by_type
        #: Capability → names with a version that declares it.
        self.by_capability = by_capability
        #: Per source, packages without a spec version, in discovery order.
        self.unspecified = unspecified

    def __len__(self) -> int:
        """Number of distinct name/version pairs."""
        return len(self._by_key)

    def __repr__(self) -> str:
        return (
            f"<Catalog generation={self.generation} packages={len(self)} "
            f"names={len(self.names)} sources={self.source_count}>"
        )

    def has_name(self, name: str) -> bool:
        return name in self._groups

    def lookup(self, name: str, version: str) -> Package | None:
        """The package with exactly this name and version string; earlier sources win."""
        entry = self._by_key.get((name, version))
        return None if entry is None else entry.package

    def packages(self) -> Iterator[Package]:
        """Every visible package (earlier sources win), by name then version."""
        for name in self.names:
            for group in self._groups[name]:
                yield group[0].package

    def newest(self, source: int, name: str) -> tuple[Entry, ...]:
        """A source's versions of a name, newest first (ties in discovery order)."""
        return self._newest[source].get(name, ())

    def firsts(self, source: int, name: str) -> tuple[Entry, ...]:
        """Like ``newest`` but only the newest version of each distinct signature."""
        return self._firsts[source].get(name, ())

    def groups(self, name: str) -> tuple[tuple[Entry, ...], ...]:
        """All sources' versions of a name, oldest first, one group per version string
        holding that version's entries in source order."""
        return self._groups.get(name, ())


def entry_fragments(entries: Sequence[Entry], category: str | None) -> Iterator[bytes]:
    """``entry.fragment(category)`` of each entry, in order; documents that can be read
    together (``fragments_of``, the persistent catalog's batch read) are."""
    plain = [category is None or category in entry.categories for entry in entries]
    whole = [entry.package.documents for entry, ok in zip(entries, plain, strict=True) if ok]
    kinds = {type(documents) for documents in whole}
    batch = None
    if len(kinds) == 1:
        batch = getattr(kinds.pop(), "fragments_of", None)
    if batch is None:
        yield from (entry.fragment(category) for entry in entries)
        return
    together = batch(whole)
    for entry, ok in zip(entries, plain, strict=True):
        yield next(together) if ok else entry.fragment(category)

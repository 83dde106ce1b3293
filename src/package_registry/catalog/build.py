"""``build_catalog``: the one way to turn loaded packages into a ``Catalog``.

Building does all the per-package work once (category closures, /categories
contributions, filter signatures, sorting) so that queries only walk prepared lists; the
/search items are rendered by the packages' documents, once, when first needed. Equal
closures and contributions are shared between versions. It keeps the sources (indexers) apart and
in precedence order, as the reference filters every indexer on its own before merging
their answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from package_registry.catalog.snapshot import Catalog, Entry, Signature
from package_registry.packages.documents import category_closure
from package_registry.packages.model import Package

__all__ = ["build_catalog"]


def _counts(package: Package) -> tuple[tuple[str, int], ...]:
    """The /categories contribution: one per package category (the reference's
    ``getCategories`` in categories.go)."""
    counts: dict[str, int] = {}
    for category in package.categories:
        counts[category] = counts.get(category, 0) + 1
    return tuple(counts.items())


def _counts_with_templates(
    package: Package, closure: frozenset[str]
) -> tuple[tuple[str, int], ...]:
    """The /categories contribution with ``include_policy_templates=true`` (``getCategories``
    with ``includePolicyTemplates``)."""
    counts: dict[str, int] = {}
    for category in package.categories:
        counts[category] = counts.get(category, 0) + 1
    extra: list[str] = []
    templates = package.policy_templates
    for template in templates:
        if template.categories is None and len(templates) == 1:
            break  # a lone template without categories is skipped
        for category in package.categories:
            counts[category] += 1  # the package once more per template
        for category in template.categories or ():
            if category not in closure and category not in extra:
                extra.append(category)
                counts[category] = counts.get(category, 0) + 1  # the package itself, once
            counts[category] = counts.get(category, 0) + 1  # the template
    return tuple(counts.items())


class _Signatures:
    """Interns filter signatures so equal ones share an index."""

    def __init__(self) -> None:
        self.items: list[Signature] = []
        self._index: dict[tuple[object, ...], int] = {}

    def intern(self, package: Package) -> int:
        semver = package.semver
        caps = package.capabilities
        key = (
            package.release == "experimental",
            bool(semver.prerelease),
            semver.major == 0,
            package.kibana.original if package.kibana is not None else None,
            package.agent.original if package.agent is not None else None,
            package.type,
            caps,
            package.spec,
            package.discovery_fields,
            package.discovery_datasets,
            package.internal,
        )
        index = self._index.get(key)
        if index is None:
            index = len(self.items)
            self._index[key] = index
            self.items.append(
                Signature(
                    experimental=key[0],
                    prerelease=key[1],
                    tech_preview=key[2],
                    kibana=package.kibana,
                    agent=package.agent,
                    type=package.type,
                    capabilities=caps,
                    spec=package.spec,
                    discovery_fields=package.discovery_fields,
                    discovery_datasets=package.discovery_datasets,
                    internal=package.internal,
                )
            )
        return index


#: What an entry derives from a package's categories and policy templates alone.
_Categories = tuple[
    frozenset[str], frozenset[str], tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]
]


class _Derived:
    """Category closures and /categories contributions, computed once per distinct pair
    of (categories, policy templates) and shared by every entry that has it: a catalog of
    tens of thousands of versions holds a few hundred distinct ones."""

    def __init__(self) -> None:
        self._by_categories: dict[tuple[int, int], _Categories] = {}

    def __call__(self, package: Package) -> _Categories:
        # By identity: packages revived from the persistent catalog share these tuples,
        # and they live as long as the build (equal tuples of other packages merely
        # compute their values once more); hashing the template records was the cost.
        key = (id(package.categories), id(package.policy_templates))
        found = self._by_categories.get(key)
        if found is None:
            closure = category_closure(package.categories)
            templates = category_closure(
                c for t in package.policy_templates for c in (t.categories or ())
            )
            found = self._by_categories[key] = (
                closure,
                templates - closure,
                _counts(package),
                _counts_with_templates(package, closure),
            )
        return found


def _entry(package: Package, source: int, sig: int, derived: _Derived) -> Entry:
    closure, template_only, counts, with_templates = derived(package)
    return Entry(
        package=package,
        source=source,
        sig=sig,
        categories=closure,
        template_categories=template_only,
        counts=counts,
        counts_with_templates=with_templates,
    )


def _version_order(entry: Entry) -> tuple[object, str]:
    return (entry.package.semver, entry.package.version)


def build_catalog(sources: Sequence[Sequence[Package]]) -> Catalog:
    """Build a catalog from one package list per source, in precedence order.

    Each list is in its source's discovery order. A name/version pair repeated inside one
    source keeps its first occurrence, as the reference's indexers do.
    """
    signatures = _Signatures()
    derived = _Derived()
    newest: list[dict[str, tuple[Entry, ...]]] = []
    firsts: list[dict[str, tuple[Entry, ...]]] = []
    unspecified: list[tuple[Entry, ...]] = []
    by_version: dict[str, dict[str, list[Entry]]] = defaultdict(dict)
    by_key: dict[tuple[str, str], Entry] = {}
    by_category: dict[str, set[str]] = defaultdict(set)
    by_type: dict[str, set[str]] = defaultdict(set)
    by_capability: dict[str, set[str]] = defaultdict(set)

    for source, packages in enumerate(sources):
        seen: set[tuple[str, str]] = set()
        per_name: dict[str, list[Entry]] = defaultdict(list)
        missing_spec: list[Entry] = []
        for package in packages:
            if package.key in seen:
                continue
            seen.add(package.key)
            entry = _entry(package, source, signatures.intern(package), derived)
            per_name[package.name].append(entry)
            by_version[package.name].setdefault(package.version, []).append(entry)
            by_key.setdefault(package.key, entry)
            if package.spec is None:
                missing_spec.append(entry)
            for category in entry.categories | entry.template_categories:
                by_category[category].add(package.name)
            by_type[package.type].add(package.name)
            for capability in package.capabilities or ():
                by_capability[capability].add(package.name)
        source_newest: dict[str, tuple[Entry, ...]] = {}
        source_firsts: dict[str, tuple[Entry, ...]] = {}
        for name, entries in per_name.items():
            # Stable: equal versions keep discovery order, as the reference's
            # "replace only when strictly newer" selection does.
            ordered = tuple(sorted(entries, key=lambda e: e.package.semver, reverse=True))
            source_newest[name] = ordered
            seen_sigs: set[int] = set()
            kept = []
            for entry in ordered:
                if entry.sig not in seen_sigs:
                    seen_sigs.add(entry.sig)
                    kept.append(entry)
            source_firsts[name] = tuple(kept)
        newest.append(source_newest)
        firsts.append(source_firsts)
        unspecified.append(tuple(missing_spec))

    groups = {
        name: tuple(
            tuple(entries)
            for entries in sorted(versions.values(), key=lambda es: _version_order(es[0]))
        )
        for name, versions in by_version.items()
    }
    return Catalog(
        signatures=tuple(signatures.items),
        newest=tuple(newest),
        firsts=tuple(firsts),
        groups=groups,
        by_key=by_key,
        by_category={k: frozenset(v) for k, v in by_category.items()},
        by_type={k: frozenset(v) for k, v in by_type.items()},
        by_capability={k: frozenset(v) for k, v in by_capability.items()},
        unspecified=tuple(unspecified),
    )

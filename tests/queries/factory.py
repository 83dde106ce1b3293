"""Small builders of ``Package`` objects for catalog and query tests.

They make packages the way the loaders do as far as queries can tell: the typed filter
fields, and a /search item in the reference's key order, using the real versions module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from package_registry.catalog.build import build_catalog
from package_registry.catalog.snapshot import Catalog
from package_registry.packages.documents import InlineDocuments
from package_registry.packages.model import Package, PolicyTemplateRef
from package_registry.packages.versions import Constraint, Version

Template = tuple[str, Sequence[str] | None]


def make_package(
    name: str,
    version: str,
    *,
    type: str = "integration",
    release: str | None = None,
    categories: Iterable[str] = (),
    templates: Iterable[Template] = (),
    kibana: str | None = None,
    agent: str | None = None,
    capabilities: Iterable[str] | None = None,
    format_version: str | None = "3.0.0",
    fields: Iterable[str] = (),
    datasets: Iterable[str] = (),
    internal: bool = False,
    title: str | None = None,
    description: str = "",
) -> Package:
    """A package as a loader would produce it; ``templates`` are (name, categories) pairs."""
    semver = Version.parse_strict(version)
    if release is None:
        release = "beta" if semver.prerelease or semver.major == 0 else "ga"
    categories = tuple(categories)
    refs = tuple(
        PolicyTemplateRef(n, None if cats is None else tuple(cats)) for n, cats in templates
    )
    caps = None if capabilities is None else tuple(capabilities)
    spec = None
    if format_version is not None:
        fv = Version.parse_strict(format_version)
        spec = Version.parse_loose(f"{fv.major}.{fv.minor}.0")

    summary: dict[str, Any] = {"name": name}
    summary["title"] = title if title is not None else name.replace("_", " ").title()
    summary["version"] = version
    summary["release"] = release
    summary["description"] = description or f"{name} package"
    summary["type"] = type
    summary["download"] = f"/epr/{name}/{name}-{version}.zip"
    summary["path"] = f"/package/{name}/{version}"
    if refs:
        items = []
        for ref in refs:
            item: dict[str, Any] = {"name": ref.name, "title": ref.name.upper(), "description": ""}
            if ref.categories is not None:
                item["categories"] = list(ref.categories)
            items.append(item)
        summary["policy_templates"] = items
    conditions: dict[str, Any] = {}
    if kibana is not None:
        conditions["kibana"] = {"version": kibana}
    if agent is not None:
        conditions["agent"] = {"version": agent}
    if caps is not None:
        conditions["elastic"] = {"subscription": "", "capabilities": list(caps)}
    if conditions:
        summary["conditions"] = conditions
    if categories:
        summary["categories"] = list(categories)
    if fields or datasets:
        discovery: dict[str, Any] = {}
        if fields:
            discovery["fields"] = [{"name": f} for f in fields]
        if datasets:
            discovery["datasets"] = [{"name": d} for d in datasets]
        summary["discovery"] = discovery

    full = dict(summary)
    if format_version is not None:
        full["format_version"] = format_version
    return Package(
        name=name,
        version=version,
        semver=semver,
        type=type,
        release=release,
        categories=categories,
        policy_templates=refs,
        kibana=None if kibana is None else Constraint.parse(kibana),
        agent=None if agent is None else Constraint.parse(agent),
        capabilities=caps,
        spec=spec,
        discovery_fields=tuple(fields),
        discovery_datasets=tuple(datasets),
        internal=internal,
        deprecated=full.get("deprecated"),
        documents=InlineDocuments(full, summary, tuple(ref.categories for ref in refs)),
        files=None,
    )


def catalog_of(*sources: Sequence[Package]) -> Catalog:
    """A catalog with one source per argument (the first has precedence)."""
    return build_catalog([list(s) for s in sources])


def keys(body: bytes) -> list[str]:
    """``name@version`` of every item of a /search body."""
    import json

    return [f"{item['name']}@{item['version']}" for item in json.loads(body)]

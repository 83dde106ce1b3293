"""What a loaded package is: a frozen record the catalog can index and serve.

A ``Package`` carries the few typed fields that queries filter on, the two JSON
documents the reference serves for it (already in the reference's key order, with
empty fields omitted; held in memory or read from the persistent catalog, see
``packages.documents``), and a handle on its files. Nothing here parses or reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from package_registry.packages.documents import Documents
from package_registry.packages.files import PackageFiles
from package_registry.packages.versions import Constraint, Version


@dataclass(frozen=True, slots=True)
class PolicyTemplateRef:
    """The part of a policy template that the category filter and counter need."""

    name: str
    #: ``None`` when the manifest has no ``categories`` key (the counter tells the two apart).
    categories: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Package:
    """One package version, as every source produces it."""

    name: str
    version: str
    semver: Version
    type: str
    release: str
    #: Package categories after dropping unknown ids.
    categories: tuple[str, ...]
    policy_templates: tuple[PolicyTemplateRef, ...]
    kibana: Constraint | None
    agent: Constraint | None
    #: ``conditions.elastic.capabilities``; ``None`` when absent.
    capabilities: tuple[str, ...] | None
    #: ``format_version`` reduced to ``major.minor.0``; ``None`` when not set.
    spec: Version | None
    discovery_fields: tuple[str, ...]
    discovery_datasets: tuple[str, ...]
    #: ``internal: true`` in the manifest: hidden from /search unless ``internal=true``.
    internal: bool
    #: The package-level ``deprecated`` notice of the documents, ``None`` when absent.
    deprecated: Any
    #: The ``/package/{name}/{version}/`` document and the ``/search`` item.
    documents: Documents
    #: Where the files live; ``None`` for packages known only by their JSON (proxy, storage).
    files: PackageFiles | None

    @property
    def full(self) -> dict[str, Any]:
        """The ``/package/{name}/{version}/`` document (reference key order)."""
        return self.documents.full()

    @property
    def summary(self) -> dict[str, Any]:
        """The ``/search`` item (reference key order)."""
        return self.documents.summary()

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.version)

    @property
    def is_prerelease(self) -> bool:
        return bool(self.semver.prerelease)

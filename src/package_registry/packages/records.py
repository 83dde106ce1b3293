"""From a finished package record to the frozen ``Package`` the catalog holds.

Loaded packages and packages decoded from an upstream's JSON end in the same ``Package``,
so the runtime fields, the documents and the deprecation notice are built here once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from package_registry.packages.documents import InlineDocuments
from package_registry.packages.files import PackageFiles
from package_registry.packages.model import Package, PolicyTemplateRef
from package_registry.packages.schema import FULL_DOCUMENT, SEARCH_ITEM
from package_registry.packages.versions import Constraint, ConstraintError, Version, VersionError
from package_registry.packages.yamlload import Struct, to_document


class RuntimeFieldError(ValueError):
    """A version, range or spec version that does not parse; ``str`` is the reference's text."""


def runtime_fields(
    record: dict[str, Any],
) -> tuple[Version, Constraint | None, Constraint | None, Version | None]:
    """Parsed version, Kibana and Agent ranges and spec version (``setRuntimeFields``).

    Loaded packages and packages decoded from an upstream's JSON are parsed alike.
    """
    try:
        semver = Version.parse_strict(record["version"])
    except VersionError as exc:
        raise RuntimeFieldError(f"invalid package version: {exc}") from None
    conditions = record["conditions"] or {}
    ranges: list[Constraint | None] = []
    for key, label in (("kibana", "Kibana"), ("agent", "Agent")):
        condition = conditions.get(key)
        if condition is None:
            ranges.append(None)
            continue
        try:
            ranges.append(Constraint.parse(condition["version"]))
        except ConstraintError as exc:
            raise RuntimeFieldError(
                f"invalid {label} versions range {condition['version']}: {exc}"
            ) from None
    spec = None
    if record["format_version"]:
        try:
            parsed = Version.parse_strict(record["format_version"])
        except VersionError as exc:
            raise RuntimeFieldError(
                f"invalid format spec version '{record['format_version']}': {exc}"
            ) from None
        spec = Version.parse_strict(f"{parsed.major}.{parsed.minor}.0")
    return semver, ranges[0], ranges[1], spec


def package_of(
    record: dict[str, Any],
    runtime: tuple[Version, Constraint | None, Constraint | None, Version | None],
    *,
    internal: bool,
    files: PackageFiles | None,
) -> Package:
    """The frozen ``Package`` of a finished record, for loaded and upstream packages alike.

    ``runtime`` is what ``runtime_fields`` parsed; an empty ``discovery`` is dropped from
    the record here, as the reference omits it.
    """
    discovery = record["discovery"]
    fields = tuple(item["name"] for item in (discovery and discovery["fields"]) or ())
    datasets = tuple(item["name"] for item in (discovery and discovery["datasets"]) or ())
    if discovery is not None and not fields and not datasets:
        record["discovery"] = None
    elastic = record["conditions"] and record["conditions"]["elastic"]
    capabilities = elastic and elastic["capabilities"]
    semver, kibana, agent, spec = runtime
    templates = tuple(
        PolicyTemplateRef(
            template["name"],
            None if template["categories"] is None else tuple(template["categories"]),
        )
        for template in record["policy_templates"] or ()
    )
    full = to_document(record, FULL_DOCUMENT)
    return Package(
        name=record["name"],
        version=record["version"],
        semver=semver,
        type=record["type"],
        release=record["release"],
        categories=tuple(record["categories"] or ()),
        policy_templates=templates,
        kibana=kibana,
        agent=agent,
        capabilities=None if capabilities is None else tuple(capabilities),
        spec=spec,
        discovery_fields=fields,
        discovery_datasets=datasets,
        internal=internal,
        deprecated=full.get("deprecated"),
        documents=InlineDocuments(
            full,
            to_document(record, SEARCH_ITEM),
            tuple(ref.categories for ref in templates),
        ),
        files=files,
    )


def with_deprecation(package: Package, notice: dict[str, Any]) -> Package:
    """A copy of ``package`` whose package-level ``deprecated`` notice is ``notice``."""
    return replace(
        package,
        deprecated=notice,
        documents=InlineDocuments(
            _with_deprecated(package.full, FULL_DOCUMENT, notice),
            _with_deprecated(package.summary, SEARCH_ITEM, notice),
            tuple(ref.categories for ref in package.policy_templates),
        ),
    )


def _with_deprecated(doc: dict[str, Any], struct: Struct, notice: Any) -> dict[str, Any]:
    keys = (field.json for field in struct.fields)
    return {
        key: notice if key == "deprecated" else doc[key]
        for key in keys
        if key == "deprecated" or key in doc
    }

"""From a package's files to a ``Package``: the reference's ``NewPackage`` and its checks.

The reference maps ``manifest.yml`` onto its Go structs, derives paths, assets and
defaults, validates, and loads the data streams; this module takes the same steps in the
same order, so both the documents and the first error of a broken package match.
"""

from __future__ import annotations

import logging
import posixpath
from typing import Any

from package_registry.gopath import join_path
from package_registry.gotext import go_quote
from package_registry.packages.datastreams import DataStreams
from package_registry.packages.errors import FAILURES, Invalid, PackageError, ReaderError
from package_registry.packages.model import Package
from package_registry.packages.reader import PackageListing, PackageReader
from package_registry.packages.records import RuntimeFieldError, package_of, runtime_fields
from package_registry.packages.schema import (
    AGENTLESS_RELEASES,
    BASE_DATA_STREAM,
    BASE_POLICY_TEMPLATE,
    PACKAGE,
    RELEASES,
)
from package_registry.packages.tables import CATEGORIES, INGESTION_METHODS
from package_registry.packages.versions import Constraint, Version, VersionError
from package_registry.packages.yamlload import ConfigError, as_bool, load_config, unpack

logger = logging.getLogger("package_registry.sources")


def _default_release(version: Version) -> str:
    return "beta" if version.prerelease or version.major == 0 else "ga"


def build_package(reader: PackageReader, *, validate: bool = True) -> Package:
    """Load the package behind ``reader`` as the reference's ``NewPackage`` does.

    Raises ``PackageError`` with the reference's ``failed to create package from path``
    message; unknown categories are dropped with a warning.
    """
    try:
        return _Loader(reader, validate).load()
    except FAILURES as exc:
        raise PackageError(f"failed to create package from path {reader.location}: {exc}") from None


class _Loader:
    """One package being loaded; walks its files once and reuses the listing."""

    def __init__(self, reader: PackageReader, validate: bool) -> None:
        self.reader = reader
        self.validate = validate
        self.files = PackageListing(reader)
        self.streams = DataStreams(self.files, validate)

    def load(self) -> Package:
        reader = self.reader
        config = load_config(reader.read("manifest.yml", reader.limits.manifest))
        record = unpack(config, PACKAGE)
        data_streams = None
        if self.validate:
            try:
                data_streams = self.validate_package(record)
            except FAILURES as exc:
                raise Invalid(f"{exc} accessing config") from None
        name, version = record["name"], record["version"]
        for template in record["policy_templates"] or ():
            self.complete_policy_template(record, template)
        record["base_policy_templates"] = [
            {field.attr: template[field.attr] for field in BASE_POLICY_TEMPLATE.fields}
            for template in record["policy_templates"] or ()
        ] or None
        record["type"] = record["type"] or "integration"
        if not record["license"]:
            elastic = record["conditions"] and record["conditions"]["elastic"]
            record["license"] = (elastic and elastic["subscription"]) or "basic"
        try:
            semver, kibana, agent, spec = runtime_fields(record)
        except RuntimeFieldError as exc:
            raise Invalid(str(exc)) from None
        for image in (record["icons"] or []) + (record["screenshots"] or []):
            image["path"] = join_path("/package", name, version, image["src"])
        record["release"] = record["release"] or _default_release(semver)
        if record["release"] not in RELEASES:
            raise Invalid(f"invalid release: {go_quote(record['release'])}")
        try:
            readme_is_dir = reader.is_dir("docs/README.md")
        except ReaderError as exc:
            raise Invalid(f"no readme file found, README.md is required: {exc}") from None
        if readme_is_dir:
            raise Invalid("README.md is a directory")
        record["readme"] = join_path("/package", name, version, "docs", "README.md")
        record["download"] = join_path("/epr", name, f"{name}-{version}.zip")
        record["path"] = join_path("/package", name, version)
        try:
            record["assets"] = self.assets(name, f"{record['path']}/")
        except FAILURES as exc:
            raise Invalid(
                f"loading package assets failed (path '{reader.location}'): {exc}"
            ) from None
        if data_streams is None:
            try:
                data_streams = self.streams.data_streams(record, validating=False)
            except FAILURES as exc:
                raise Invalid(
                    f"loading package data streams failed (path '{reader.location}'): {exc}"
                ) from None
        record["data_streams"] = data_streams or None
        record["base_data_streams"] = [
            {field.attr: stream[field.attr] for field in BASE_DATA_STREAM.fields}
            for stream in data_streams
        ] or None
        try:
            signature = reader.find_signature()
        except ReaderError as exc:
            raise Invalid(f"can't process the package signature: {exc}") from None
        record["signature_path"] = f"{record['download']}.sig" if signature else ""
        return self.package(config, record, semver, kibana, agent, spec)

    def validate_package(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The reference's ``Package.Validate``; returns the data streams it loads."""
        format_version = record["format_version"]
        if not format_version:
            raise Invalid(f"no format_version set: &{{{{{record['name']} {record['version']}}}}}")
        try:
            Version.parse_strict(format_version)
        except VersionError as exc:
            raise Invalid(f"invalid package version: {format_version}, {exc}") from None
        semver = Version.parse_strict(record["version"])
        record["release"] = record["release"] or _default_release(semver)
        if not record["title"]:
            raise Invalid(f"no title set for package: {record['name']}")
        if not record["description"]:
            raise Invalid("no description set")
        for image in (record["icons"] or []) + (record["screenshots"] or []):
            self.reader.is_dir(image["src"])
        try:
            in_path = Version.parse_loose(posixpath.basename(self.reader.location))
        except VersionError:
            in_path = None
        if in_path is not None and in_path != semver:
            raise Invalid(
                "version in manifest file is not consistent with path: inconsistent versions"
                f" (path: {in_path.canonical()}, manifest: {semver.canonical()})"
            )
        for template in record["policy_templates"] or ():
            for item in template["inputs"] or ():
                if not item["type"] and not item["package"]:
                    raise Invalid(
                        f"input {item['title']} in policy template {template['name']}"
                        " must have a type or package"
                    )
                if item["type"] and item["package"]:
                    raise Invalid(
                        f"input {item['title']} in policy template {template['name']}"
                        " must have a type or package, but not both"
                    )
        return self.streams.data_streams(record, validating=True)

    def complete_policy_template(self, record: dict[str, Any], template: dict[str, Any]) -> None:
        """Defaults, image paths, readme and ingestion method of one policy template."""
        name = template["name"]
        if template["multiple"] is None:
            template["multiple"] = True
        for image in (template["icons"] or []) + (template["screenshots"] or []):
            image["path"] = join_path("/package", record["name"], record["version"], image["src"])
        readme = join_path("docs", f"{name}.md")
        try:
            readme_is_dir = self.reader.is_dir(readme)
        except ReaderError:
            readme_is_dir = None
        if readme_is_dir:
            raise Invalid(f"{name}.md is a directory")
        if readme_is_dir is False:
            template["readme"] = join_path("/package", record["name"], record["version"], readme)
        if record["type"] == "input" and template["input"]:
            template["ingestion_method"] = INGESTION_METHODS.get(template["input"], "")
        modes = template["deployment_modes"]
        agentless = modes and modes["agentless"]
        if agentless and agentless["release"] and agentless["release"] not in AGENTLESS_RELEASES:
            raise Invalid(
                f"policy template {go_quote(name)}: invalid agentless release:"
                f" {go_quote(agentless['release'])}"
            )

    def assets(self, name: str, prefix: str) -> list[str]:
        """Files breadth-first by depth; a directory name with ``-`` fails the package."""
        assets = []
        by_depth = self.files.listing("*")
        depth = 0
        while depth in by_depth:
            for entry in by_depth[depth]:
                if ".DS_Store" in entry.name:
                    continue
                is_dir = entry.is_dir
                if is_dir is None:
                    is_dir = self.reader.is_dir(entry.name)
                if is_dir:
                    if "-" in posixpath.basename(entry.path):
                        raise Invalid(
                            f"directory name inside package {name} contains -: {entry.name}"
                        )
                    continue
                assets.append(prefix + entry.path)
            depth += 1
        return assets

    def package(
        self,
        config: Any,
        record: dict[str, Any],
        semver: Version,
        kibana: Constraint | None,
        agent: Constraint | None,
        spec: Version | None,
    ) -> Package:
        """The finished ``Package``: unknown categories dropped, documents encoded."""
        name, version = record["name"], record["version"]
        categories = []
        for category in record["categories"] or ():
            if category in CATEGORIES:
                categories.append(category)
            else:
                logger.warning(
                    "package uses an unknown category, will be ignored",
                    extra={
                        "package": name,
                        "version": version,
                        "category": category,
                        "file.path": self.reader.location,
                    },
                )
        if record["categories"] is not None:
            record["categories"] = categories
        internal = config.get("internal") if isinstance(config, dict) else None
        try:
            internal = internal is not None and as_bool(internal, "internal")
        except ConfigError:
            internal = False  # our extension: a value the reference would ignore hides nothing
        return package_of(
            record, (semver, kibana, agent, spec), internal=internal, files=self.reader
        )

    # data streams

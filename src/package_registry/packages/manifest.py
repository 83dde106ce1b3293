"""From a package's files to a ``Package``: the reference's model, defaults and checks.

The reference maps ``manifest.yml`` and each ``data_stream/*/manifest.yml`` onto Go
structs, derives paths, assets and defaults, validates, and serialises the ``/package``
and ``/search`` documents; this module takes the same steps in the same order, so both
the documents and the first error of a broken package match. Files are read only through
``PackageReader``, so folders and zips share every rule.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import orjson
import yaml

from package_registry.gotext import go_quote
from package_registry.packages.files import PackageFiles
from package_registry.packages.model import Package, PolicyTemplateRef
from package_registry.packages.tables import CATEGORIES, INGESTION_METHODS
from package_registry.packages.versions import Constraint, ConstraintError, Version, VersionError
from package_registry.packages.yamlload import (
    ANY,
    BOOL,
    MAP,
    OBJ,
    OBJS,
    PBOOL,
    PSTR,
    STR,
    STRS,
    ConfigError,
    Field,
    Struct,
    YamlError,
    as_bool,
    compose_yaml,
    go_float_text,
    load_config,
    mapping_items,
    scalar_value,
    to_document,
    type_error,
    unmarshal_errors,
    unpack,
)

logger = logging.getLogger("package_registry.sources")


class ReaderError(Exception):
    """A file could not be read or stat'ed; ``str`` is Go's error text for it."""

    def __init__(self, text: str, *, not_found: bool = False) -> None:
        super().__init__(text)
        #: ``os.IsNotExist`` would be true for the Go error.
        self.not_found = not_found


class PackageError(Exception):
    """The package does not load; ``str`` is the reference's full error text."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One file or directory of a package, as the reference's glob reports it."""

    #: Clean path relative to the package root (what patterns are matched against).
    path: str
    #: The name the reference's glob returns (for zips the member name, unclean).
    name: str
    #: Whether it is a directory; ``None`` when only a stat can tell (a symbolic link).
    is_dir: bool | None


class PackageReader(PackageFiles, Protocol):
    """What loading needs from a package's storage, on top of serving its files."""

    def walk(self) -> list[Entry]:
        """Every entry below the root, in the reference's glob order."""

    def read(self, name: str) -> bytes:
        """The content of ``name``; raises ``ReaderError``."""

    def is_dir(self, name: str) -> bool:
        """Stat ``name``, following links; raises ``ReaderError`` when that fails."""

    def find_signature(self) -> str | None:
        """Stat the ``.sig`` beside the package and remember it; raises ``ReaderError``."""

    def close(self) -> None:
        """Release what loading held open (serving needs nothing kept open)."""


class _Invalid(Exception):
    """A check of the reference failed; ``str`` is its message."""


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
    return Package(
        name=record["name"],
        version=record["version"],
        semver=semver,
        type=record["type"],
        release=record["release"],
        categories=tuple(record["categories"] or ()),
        policy_templates=tuple(
            PolicyTemplateRef(
                template["name"],
                None if template["categories"] is None else tuple(template["categories"]),
            )
            for template in record["policy_templates"] or ()
        ),
        kibana=kibana,
        agent=agent,
        capabilities=None if capabilities is None else tuple(capabilities),
        spec=spec,
        discovery_fields=fields,
        discovery_datasets=datasets,
        internal=internal,
        full=to_document(record, _FULL),
        summary=to_document(record, _SUMMARY),
        files=files,
    )


# --- the model ---------------------------------------------------------------------------
# The reference's Go structs, field by field in declaration order (which is also their
# JSON order). ``omitempty=False`` marks the fields Go always writes.


def _struct(go_name: str, *fields: Field) -> Struct:
    return Struct(f"packages.{go_name}", fields)


def _always(attr: str, kind: str = STR, *, required: bool = False) -> Field:
    return Field(attr, kind, required=required, omitempty=False)


_REPLACED_BY = _struct(
    "ReplacedBy",
    *(
        Field(name, STR)
        for name in ("package", "policy_template", "input", "data_stream", "variable")
    ),
)
_DEPRECATED = _struct(
    "Deprecated",
    _always("since"),
    _always("description"),
    Field("replaced_by", OBJ, struct=_REPLACED_BY),
)
_IMAGE = _struct(
    "Image",
    _always("src", required=True),
    _always("path"),
    Field("title", STR),
    Field("size", STR),
    Field("type", STR),
)
_VARIABLE = _struct(
    "Variable",
    _always("name"),
    _always("type"),
    Field("title", STR),
    Field("description", STR),
    _always("multi", BOOL),
    _always("required", BOOL),
    _always("show_user", BOOL),
    Field("default", ANY),
    Field("deprecated", OBJ, struct=_DEPRECATED),
)
_STREAM = _struct(
    "Stream",
    Field("input", STR),
    Field("package", STR),
    Field("vars", OBJS, struct=_VARIABLE),
    Field("data_stream", STR),
    Field("template_path", STR),
    Field("title", STR),
    Field("description", STR),
    Field("enabled", PBOOL),
    Field("ingestion_method", STR),
)
_INPUT = _struct(
    "Input",
    Field("type", STR),
    Field("package", STR),
    Field("vars", OBJS, struct=_VARIABLE),
    Field("title", STR),
    Field("description", STR),
    Field("streams", OBJS, struct=_STREAM),
    Field("template_path", STR),
    Field("input_group", STR),
    Field("deployment_modes", STRS),
    Field("deprecated", OBJ, struct=_DEPRECATED),
)
_DEFAULT_MODE = _struct("DefaultDeploymentMode", _always("enabled", BOOL))
_AGENTLESS_MODE = _struct(
    "AgentlessDeploymentMode",
    _always("enabled", BOOL),
    Field("is_default", PBOOL),
    Field("release", STR),
)
_DEPLOYMENT_MODES = _struct(
    "DeploymentModes",
    Field("default", OBJ, struct=_DEFAULT_MODE),
    Field("agentless", OBJ, struct=_AGENTLESS_MODE),
)
_POLICY_TEMPLATE = _struct(
    "PolicyTemplate",
    _always("name", required=True),
    _always("title", required=True),
    _always("description", required=True),
    Field("data_streams", STRS),
    Field("inputs", OBJS, struct=_INPUT),
    Field("multiple", PBOOL),
    Field("icons", OBJS, struct=_IMAGE),
    Field("categories", STRS),
    Field("screenshots", OBJS, struct=_IMAGE),
    Field("readme", PSTR),
    Field("deployment_modes", OBJ, struct=_DEPLOYMENT_MODES),
    Field("type", STR),
    Field("input", STR),
    Field("ingestion_method", STR),
    Field("template_path", STR),
    Field("deprecated", OBJ, struct=_DEPRECATED),
)
_BASE_POLICY_TEMPLATE_FIELDS = (
    "name", "title", "description", "icons", "categories", "deployment_modes", "data_streams",
    "deprecated",
)  # fmt: skip
#: The ``/search`` view of a policy template: some of its fields, in this order.
_BASE_POLICY_TEMPLATE = _struct(
    "BasePolicyTemplate",
    *(
        field
        for name in _BASE_POLICY_TEMPLATE_FIELDS
        for field in _POLICY_TEMPLATE.fields
        if field.attr == name
    ),
)
_KIBANA_CONDITIONS = _struct("KibanaConditions", _always("version"))
_AGENT_CONDITIONS = _struct("AgentConditions", _always("version"))
_ELASTIC_CONDITIONS = _struct(
    "ElasticConditions", _always("subscription"), Field("capabilities", STRS)
)
_CONDITIONS = _struct(
    "Conditions",
    Field("kibana", OBJ, struct=_KIBANA_CONDITIONS),
    Field("elastic", OBJ, struct=_ELASTIC_CONDITIONS),
    Field("agent", OBJ, struct=_AGENT_CONDITIONS),
)
_OWNER = _struct("Owner", Field("type", STR), Field("github", STR))
_SOURCE = _struct("Source", Field("license", STR))
_DISCOVERY = _struct(
    "Discovery",
    Field("fields", OBJS, struct=_struct("DiscoveryField", _always("name", required=True))),
    Field("datasets", OBJS, struct=_struct("DiscoveryDataset", _always("name", required=True))),
)
_REQUIREMENT = _struct(
    "PackageRequirement", _always("package", required=True), _always("version", required=True)
)
_REQUIRES = _struct(
    "PackageRequirements",
    Field("input", OBJS, struct=_REQUIREMENT),
    Field("content", OBJS, struct=_REQUIREMENT),
)
_ROOT_PRIVILEGES = _struct("AgentPrivileges", Field("root", BOOL))
_AGENT = _struct("Agent", Field("privileges", OBJ, struct=_ROOT_PRIVILEGES))
_CLUSTER_PRIVILEGES = _struct("PackageElasticsearchPrivileges", Field("cluster", STRS))
_PACKAGE_ELASTICSEARCH = _struct(
    "PackageElasticsearch", Field("privileges", OBJ, struct=_CLUSTER_PRIVILEGES)
)
_INDICES_PRIVILEGES = _struct("DataStreamElasticsearchPrivileges", Field("indices", STRS))
_DATA_STREAM_ELASTICSEARCH = _struct(
    "DataStreamElasticsearch",
    Field("index_template_settings", MAP, key="index_template.settings"),
    Field("index_template_mappings", MAP, key="index_template.mappings"),
    Field("ingest_pipeline_name", STR, key="ingest_pipeline.name"),
    Field("privileges", OBJ, struct=_INDICES_PRIVILEGES),
)
_DATA_STREAM = _struct(
    "DataStream",
    _always("type", required=True),
    Field("dataset", STR),
    Field("hidden", BOOL),
    Field("ilm_policy", STR),
    Field("dataset_is_prefix", BOOL),
    _always("title", required=True),
    Field("release", STR),
    Field("ingest_pipeline", STR),
    Field("streams", OBJS, struct=_STREAM),
    Field("package", STR),
    Field("elasticsearch", OBJ, struct=_DATA_STREAM_ELASTICSEARCH),
    Field("agent", OBJ, struct=_AGENT),
    Field("path", STR),
    Field("deprecated", OBJ, struct=_DEPRECATED),
)
_BASE_DATA_STREAM = _struct(
    "BaseDataStream",
    Field("type", STR),
    _always("dataset"),
    _always("title"),
    Field("deprecated", OBJ, struct=_DEPRECATED),
)
_PACKAGE = _struct(
    "Package",
    _always("name"),
    Field("title", PSTR),
    _always("version"),
    Field("release", STR),
    Field("source", OBJ, struct=_SOURCE),
    _always("description"),
    _always("type"),
    _always("download"),
    _always("path"),
    Field("icons", OBJS, struct=_IMAGE),
    Field("policy_templates_behavior", STR),
    Field("conditions", OBJ, struct=_CONDITIONS),
    Field("owner", OBJ, struct=_OWNER),
    Field("categories", STRS),
    Field("signature_path", STR),
    Field("discovery", OBJ, struct=_DISCOVERY),
    Field("deprecated", OBJ, struct=_DEPRECATED),
    Field("requires", OBJ, struct=_REQUIRES),
    Field("group", STR),
    _always("format_version"),
    Field("readme", PSTR),
    Field("license", STR),
    Field("screenshots", OBJS, struct=_IMAGE),
    Field("assets", STRS),
    Field("policy_templates", OBJS, struct=_POLICY_TEMPLATE),
    Field("vars", OBJS, struct=_VARIABLE),
    Field("elasticsearch", OBJ, struct=_PACKAGE_ELASTICSEARCH),
    Field("agent", OBJ, struct=_AGENT),
    # Filled in after mapping, never read from the manifest.
    Field("base_policy_templates", OBJS, None, _BASE_POLICY_TEMPLATE, json="policy_templates"),
    Field("data_streams", OBJS, None, _DATA_STREAM, json="data_streams"),
    Field("base_data_streams", OBJS, None, _BASE_DATA_STREAM, json="data_streams"),
)
_PACKAGE_FIELDS = {field.attr: field for field in _PACKAGE.fields}
#: The ``/package`` document (section 6.1) and the ``/search`` item (6.2), in key order.
_FULL = Struct(
    "Package",
    tuple(
        _PACKAGE_FIELDS[attr]
        for attr in (
            "name", "title", "version", "release", "source", "description", "type", "download",
            "path", "icons", "policy_templates_behavior", "conditions", "owner", "categories",
            "signature_path", "discovery", "deprecated", "requires", "group", "format_version",
            "readme", "license", "screenshots", "assets", "policy_templates", "data_streams",
            "vars", "elasticsearch", "agent",
        )
    ),
)  # fmt: skip
_SUMMARY = Struct(
    "BasePackage",
    tuple(
        _PACKAGE_FIELDS[attr]
        for attr in (
            "name", "title", "version", "release", "source", "description", "type", "download",
            "path", "icons", "policy_templates_behavior", "base_policy_templates", "conditions",
            "owner", "categories", "signature_path", "discovery", "base_data_streams",
            "deprecated", "requires", "group",
        )
    ),
)  # fmt: skip

#: The layouts above under public names, for decoding the same documents from JSON
#: (``packages.jsonmodel``).
FULL_DOCUMENT = _FULL
SEARCH_ITEM = _SUMMARY
BASE_POLICY_TEMPLATE = _BASE_POLICY_TEMPLATE
BASE_DATA_STREAM = _BASE_DATA_STREAM

_RELEASES = ("experimental", "beta", "ga")
_AGENTLESS_RELEASES = ("beta", "ga")
_DATA_STREAM_TYPES = ("logs", "metrics", "synthetics", "traces")
_REQUIRED_FIELDS = (
    ("data_stream.type", "constant_keyword"),
    ("data_stream.dataset", "constant_keyword"),
    ("data_stream.namespace", "constant_keyword"),
    ("@timestamp", "date"),
)


def with_deprecation(package: Package, notice: dict[str, Any]) -> Package:
    """A copy of ``package`` whose package-level ``deprecated`` notice is ``notice``."""
    return replace(
        package,
        full=_with_deprecated(package.full, _FULL, notice),
        summary=_with_deprecated(package.summary, _SUMMARY, notice),
    )


def _with_deprecated(doc: dict[str, Any], struct: Struct, notice: Any) -> dict[str, Any]:
    keys = (field.json for field in struct.fields)
    return {
        key: notice if key == "deprecated" else doc[key]
        for key in keys
        if key == "deprecated" or key in doc
    }


# --- small Go helpers ----------------------------------------------------------------------


def clean_path(path: str) -> str:
    """Go's ``path.Clean``."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _join(*parts: str) -> str:
    """Go's ``path.Join``."""
    joined = "/".join(part for part in parts if part)
    return clean_path(joined) if joined else ""


def _canonical(version: Version) -> str:
    """Masterminds' ``Version.String()``."""
    text = f"{version.major}.{version.minor}.{version.patch}"
    if version.prerelease:
        text += f"-{version.prerelease}"
    return text + (f"+{version.metadata}" if version.metadata else "")


def _default_release(version: Version) -> str:
    return "beta" if version.prerelease or version.major == 0 else "ga"


def _sprint(value: Any) -> str:
    """Go's ``%v`` of a scalar decoded from YAML."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float_text(value)
    return str(value)


#: Everything a broken package raises; the texts are the reference's errors.
_FAILURES = (_Invalid, ReaderError, YamlError, ConfigError, VersionError, ConstraintError)


# --- loading -------------------------------------------------------------------------------


def build_package(reader: PackageReader, *, validate: bool = True) -> Package:
    """Load the package behind ``reader`` as the reference's ``NewPackage`` does.

    Raises ``PackageError`` with the reference's ``failed to create package from path``
    message; unknown categories are dropped with a warning.
    """
    try:
        return _Loader(reader, validate).load()
    except _FAILURES as exc:
        raise PackageError(f"failed to create package from path {reader.location}: {exc}") from None


class _Loader:
    """One package being loaded; walks its files once and reuses the listing."""

    def __init__(self, reader: PackageReader, validate: bool) -> None:
        self.reader = reader
        self.validate = validate
        self._by_depth: dict[int, list[Entry]] | None = None
        self._by_parent: dict[str, list[Entry]] = {}

    # files

    def listing(self, pattern: str) -> dict[int, list[Entry]]:
        """The package's entries by depth (0 = top level), listed on first use.

        ``pattern`` is the glob the reference would be running, for its error message.
        """
        if self._by_depth is None:
            try:
                entries = self.reader.walk()
            except ReaderError as exc:
                raise _Invalid(
                    f"failed to obtain path under package root path ({pattern}): {exc}"
                ) from None
            self._by_depth = {}
            for entry in entries:
                self._by_depth.setdefault(entry.path.count("/"), []).append(entry)
                self._by_parent.setdefault(entry.path.rpartition("/")[0], []).append(entry)
        return self._by_depth

    def children(self, directory: str) -> list[Entry]:
        """The reference's ``Glob("<directory>/*")``, in listing order."""
        self.listing(f"{directory}/*")
        return self._by_parent.get(directory, [])

    # package

    def load(self) -> Package:
        reader = self.reader
        config = load_config(reader.read("manifest.yml"))
        record = unpack(config, _PACKAGE)
        data_streams = None
        if self.validate:
            try:
                data_streams = self.validate_package(record)
            except _FAILURES as exc:
                raise _Invalid(f"{exc} accessing config") from None
        name, version = record["name"], record["version"]
        for template in record["policy_templates"] or ():
            self.complete_policy_template(record, template)
        record["base_policy_templates"] = [
            {field.attr: template[field.attr] for field in _BASE_POLICY_TEMPLATE.fields}
            for template in record["policy_templates"] or ()
        ] or None
        record["type"] = record["type"] or "integration"
        if not record["license"]:
            elastic = record["conditions"] and record["conditions"]["elastic"]
            record["license"] = (elastic and elastic["subscription"]) or "basic"
        try:
            semver, kibana, agent, spec = runtime_fields(record)
        except RuntimeFieldError as exc:
            raise _Invalid(str(exc)) from None
        for image in (record["icons"] or []) + (record["screenshots"] or []):
            image["path"] = _join("/package", name, version, image["src"])
        record["release"] = record["release"] or _default_release(semver)
        if record["release"] not in _RELEASES:
            raise _Invalid(f"invalid release: {go_quote(record['release'])}")
        try:
            readme_is_dir = reader.is_dir("docs/README.md")
        except ReaderError as exc:
            raise _Invalid(f"no readme file found, README.md is required: {exc}") from None
        if readme_is_dir:
            raise _Invalid("README.md is a directory")
        record["readme"] = _join("/package", name, version, "docs", "README.md")
        record["download"] = _join("/epr", name, f"{name}-{version}.zip")
        record["path"] = _join("/package", name, version)
        try:
            record["assets"] = self.assets(name, f"{record['path']}/")
        except _FAILURES as exc:
            raise _Invalid(
                f"loading package assets failed (path '{reader.location}'): {exc}"
            ) from None
        if data_streams is None:
            try:
                data_streams = self.data_streams(record, validating=False)
            except _FAILURES as exc:
                raise _Invalid(
                    f"loading package data streams failed (path '{reader.location}'): {exc}"
                ) from None
        record["data_streams"] = data_streams or None
        record["base_data_streams"] = [
            {field.attr: stream[field.attr] for field in _BASE_DATA_STREAM.fields}
            for stream in data_streams
        ] or None
        try:
            signature = reader.find_signature()
        except ReaderError as exc:
            raise _Invalid(f"can't process the package signature: {exc}") from None
        record["signature_path"] = f"{record['download']}.sig" if signature else ""
        return self.package(config, record, semver, kibana, agent, spec)

    def validate_package(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The reference's ``Package.Validate``; returns the data streams it loads."""
        format_version = record["format_version"]
        if not format_version:
            raise _Invalid(f"no format_version set: &{{{{{record['name']} {record['version']}}}}}")
        try:
            Version.parse_strict(format_version)
        except VersionError as exc:
            raise _Invalid(f"invalid package version: {format_version}, {exc}") from None
        semver = Version.parse_strict(record["version"])
        record["release"] = record["release"] or _default_release(semver)
        if not record["title"]:
            raise _Invalid(f"no title set for package: {record['name']}")
        if not record["description"]:
            raise _Invalid("no description set")
        for image in (record["icons"] or []) + (record["screenshots"] or []):
            self.reader.is_dir(image["src"])
        try:
            in_path = Version.parse_loose(posixpath.basename(self.reader.location))
        except VersionError:
            in_path = None
        if in_path is not None and in_path != semver:
            raise _Invalid(
                "version in manifest file is not consistent with path: inconsistent versions"
                f" (path: {_canonical(in_path)}, manifest: {_canonical(semver)})"
            )
        for template in record["policy_templates"] or ():
            for item in template["inputs"] or ():
                if not item["type"] and not item["package"]:
                    raise _Invalid(
                        f"input {item['title']} in policy template {template['name']}"
                        " must have a type or package"
                    )
                if item["type"] and item["package"]:
                    raise _Invalid(
                        f"input {item['title']} in policy template {template['name']}"
                        " must have a type or package, but not both"
                    )
        return self.data_streams(record, validating=True)

    def complete_policy_template(self, record: dict[str, Any], template: dict[str, Any]) -> None:
        """Defaults, image paths, readme and ingestion method of one policy template."""
        name = template["name"]
        if template["multiple"] is None:
            template["multiple"] = True
        for image in (template["icons"] or []) + (template["screenshots"] or []):
            image["path"] = _join("/package", record["name"], record["version"], image["src"])
        readme = _join("docs", f"{name}.md")
        try:
            readme_is_dir = self.reader.is_dir(readme)
        except ReaderError:
            readme_is_dir = None
        if readme_is_dir:
            raise _Invalid(f"{name}.md is a directory")
        if readme_is_dir is False:
            template["readme"] = _join("/package", record["name"], record["version"], readme)
        if record["type"] == "input" and template["input"]:
            template["ingestion_method"] = INGESTION_METHODS.get(template["input"], "")
        modes = template["deployment_modes"]
        agentless = modes and modes["agentless"]
        if agentless and agentless["release"] and agentless["release"] not in _AGENTLESS_RELEASES:
            raise _Invalid(
                f"policy template {go_quote(name)}: invalid agentless release:"
                f" {go_quote(agentless['release'])}"
            )

    def assets(self, name: str, prefix: str) -> list[str]:
        """Files breadth-first by depth; a directory name with ``-`` fails the package."""
        assets = []
        by_depth = self.listing("*")
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
                        raise _Invalid(
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

    def data_streams(self, record: dict[str, Any], *, validating: bool) -> list[dict[str, Any]]:
        """Every ``data_stream/<dir>/manifest.yml``, loaded (and checked when ``validating``)."""
        streams = []
        manifests = [
            entry.path.split("/")
            for entry in self.listing("data_stream/*/manifest.yml").get(2, [])
            if entry.path.startswith("data_stream/") and entry.path.endswith("/manifest.yml")
        ]
        for _, directory, _ in manifests:
            base = f"data_stream/{directory}"
            try:
                stream, manifest_pipeline = self.data_stream(record, directory)
            except _FAILURES as exc:
                if validating:
                    raise _Invalid(f"building data stream failed (path: {base}): {exc}") from None
                raise
            if validating:
                try:
                    self.check_dataset(stream)
                    if stream["ingest_pipeline"] != manifest_pipeline:
                        self.check_pipeline(directory, stream["ingest_pipeline"])
                except _FAILURES as exc:
                    raise _Invalid(f"validating data stream failed (path: {base}): {exc}") from None
            streams.append(stream)
        return streams

    def data_stream(self, record: dict[str, Any], directory: str) -> tuple[dict[str, Any], str]:
        """One data stream (``NewDataStream``) and the pipeline its manifest named."""
        name = record["name"]
        manifest = f"data_stream/{directory}/manifest.yml"
        try:
            self.reader.is_dir(manifest)
        except ReaderError as exc:
            if exc.not_found:
                raise _Invalid(
                    f"manifest does not exist for data stream: {self.reader.location}: {exc}"
                ) from None
        try:
            data = self.reader.read(manifest)
        except ReaderError as exc:
            raise _Invalid(f"failed to read manifest: {exc}: {exc}") from None
        try:
            config = load_config(data)
        except (YamlError, ConfigError) as exc:
            raise _Invalid(f"error creating new manifest config: {exc}") from None
        try:
            stream = unpack(config, _DATA_STREAM, preset={"package": name, "path": directory})
            if self.validate:
                try:
                    self.check_data_stream(stream, directory)
                except _FAILURES as exc:
                    raise ConfigError(f"{exc} accessing config") from None
        except ConfigError as exc:
            raise _Invalid(
                f"error building data stream (path: {directory}) in package: {name}: {exc}"
            ) from None
        manifest_pipeline = stream["ingest_pipeline"]
        stream["dataset"] = stream["dataset"] or f"{name}.{directory}"
        stream["release"] = stream["release"] or record["release"]
        for item in stream["streams"] or ():
            if item["enabled"] is None:
                item["enabled"] = True
            item["template_path"] = item["template_path"] or "stream.yml.hbs"
            item["ingestion_method"] = (
                INGESTION_METHODS.get(item["input"]) or item["ingestion_method"]
            )
        if stream["release"] not in _RELEASES:
            raise _Invalid(f"invalid release: {go_quote(stream['release'])}")
        pipelines = [
            entry.name
            for entry in self.children(f"data_stream/{directory}/elasticsearch/ingest_pipeline")
        ]
        has_default = any(
            posixpath.basename(name.rstrip("/")) in ("default.json", "default.yml")
            for name in pipelines
        )
        elasticsearch = stream["elasticsearch"]
        if elasticsearch is not None and not elasticsearch["ingest_pipeline_name"]:
            if has_default:
                elasticsearch["ingest_pipeline_name"] = stream["ingest_pipeline"] = "default"
        elif not stream["ingest_pipeline"] and has_default:
            stream["ingest_pipeline"] = "default"
        if not stream["ingest_pipeline"] and pipelines:
            dataset, names = stream["dataset"], ",".join(pipelines)
            raise _Invalid(f"unused pipelines in the package (dataset: {dataset}): {names}")
        return stream, manifest_pipeline

    def check_data_stream(self, stream: dict[str, Any], directory: str) -> None:
        """``DataStream.Validate`` as go-ucfg runs it, on the manifest's own values."""
        self.check_dataset(stream)
        if stream["type"] not in _DATA_STREAM_TYPES:
            raise _Invalid(f"type is not valid: {stream['type']}")
        if stream["ingest_pipeline"]:
            self.check_pipeline(directory, stream["ingest_pipeline"])
        try:
            self.check_required_fields(directory)
        except _FAILURES as exc:
            raise _Invalid(f"validating required fields failed: {exc}") from None
        for item in stream["streams"] or ():
            if not item["input"] and not item["package"]:
                raise _Invalid(f"stream {item['title']} must have a input or package")
            if item["input"] and item["package"]:
                raise _Invalid(f"stream {item['title']} must have a input or package, but not both")

    @staticmethod
    def check_dataset(stream: dict[str, Any]) -> None:
        if "-" in stream["dataset"]:
            raise _Invalid(f"data stream name is not allowed to contain `-`: {stream['dataset']}")

    def check_pipeline(self, directory: str, pipeline: str) -> None:
        """The legacy ``ingest_pipeline`` must exist as ``.json`` and/or ``.yml`` and parse."""
        pipeline_dir = f"data_stream/{directory}/elasticsearch/ingest_pipeline"
        json_path = _join(pipeline_dir, f"{pipeline}.json")
        found = False
        for path, kind in ((json_path, "JSON"), (_join(pipeline_dir, f"{pipeline}.yml"), "YAML")):
            try:
                self.reader.is_dir(path)
            except ReaderError as exc:
                if exc.not_found:
                    continue
                raise _Invalid(
                    f"stat ingest pipeline {kind} file failed (path: {json_path}): {exc}"
                ) from None
            try:
                _check_pipeline_document(self.reader, path)
            except _FAILURES as exc:
                raise _Invalid(
                    f"validating ingest pipeline {kind} file failed (path: {json_path}): {exc}"
                ) from None
            found = True
        if not found:
            raise _Invalid(f"defined ingest_pipeline does not exist: {pipeline_dir}{pipeline}")

    def check_required_fields(self, directory: str) -> None:
        """``data_stream.*`` must be ``constant_keyword`` and ``@timestamp`` a ``date``."""
        definitions: list[_Definition] = []
        for entry in self.children(f"data_stream/{directory}/fields"):
            try:
                data = self.reader.read(entry.name)
            except ReaderError as exc:
                raise _Invalid(f"reading file failed (path: {entry.name}): {exc}") from None
            try:
                definitions.extend(_field_definitions(data))
            except (YamlError, _Invalid) as exc:
                raise _Invalid(f"unmarshaling file failed (path: {entry.name}): {exc}") from None
        for name, expected in _REQUIRED_FIELDS:
            try:
                found = _find_field(definitions, name)
            except _Invalid:
                try:
                    found = _find_nested_field(definitions, name)
                except _Invalid as exc:
                    raise _Invalid(f"finding field failed (searchedName: {name}): {exc}") from None
            if found != expected:
                raise _Invalid(
                    f"wrong field type for '{name}' (expected: {expected}, got: {found})"
                )


# --- data stream files ---------------------------------------------------------------------


def _check_pipeline_document(reader: PackageReader, path: str) -> None:
    """An ingest pipeline file must decode into a JSON/YAML object (or be null)."""
    try:
        data = reader.read(path)
    except ReaderError as exc:
        raise _Invalid(f"reading ingest pipeline file failed (path: {path}): {exc}") from None
    extension = posixpath.splitext(path)[1]
    if extension == ".json":
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError:
            try:
                document = orjson.loads(data.decode("utf-8", "replace"))
            except orjson.JSONDecodeError as exc:
                raise _Invalid(str(exc)) from None
        if document is not None and not isinstance(document, dict):
            raise _Invalid(
                f"json: cannot unmarshal {_json_kind(document)} into Go value of type"
                " map[string]interface {}"
            )
    elif extension == ".yml":
        root = compose_yaml(data)
        if root is not None and not isinstance(root, yaml.MappingNode) and not _is_null(root):
            raise _Invalid(unmarshal_errors([type_error(root, "map[string]interface {}")]))
    else:
        raise _Invalid(f"unsupported pipeline extension (path: {path}, ext: {extension})")


def _json_kind(document: Any) -> str:
    if isinstance(document, list):
        return "array"
    if isinstance(document, str):
        return "string"
    if isinstance(document, bool):
        return "bool"
    return "number"


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and scalar_value(node) is None


def _text(node: yaml.Node) -> str:
    """Go's ``%v`` of the value yaml.v2 decodes from ``node``."""
    if isinstance(node, yaml.ScalarNode):
        return _sprint(scalar_value(node))
    if isinstance(node, yaml.SequenceNode):
        return "[" + " ".join(_text(item) for item in node.value) + "]"
    return "map[" + " ".join(f"{_text(k)}:{_text(v)}" for k, v in node.value) + "]"


@dataclass(frozen=True, slots=True)
class _Definition:
    """What the required-fields check reads from one field definition."""

    #: ``None`` when the definition has no ``name`` (or is a null list item).
    name: str | None
    #: ``None`` when the definition has no ``type``.
    type: str | None
    #: A group's children, or why they cannot be read; ``None`` without ``fields``.
    children: tuple[_Definition, ...] | str | None = None


_GROUPS = frozenset(name.split(".")[0] for name, _ in _REQUIRED_FIELDS if "." in name)
_DEFINITIONS_CACHE: dict[bytes, tuple[_Definition, ...] | str] = {}
_DEFINITIONS_CACHE_SIZE = 4096


def _field_definitions(data: bytes) -> tuple[_Definition, ...]:
    """The definitions of one ``fields/*.yml``; identical files are parsed once."""
    key = hashlib.blake2b(data, digest_size=16).digest()
    result = _DEFINITIONS_CACHE.get(key)
    if result is None:
        try:
            result = _parse_definitions(data)
        except (YamlError, _Invalid) as exc:
            result = str(exc)
        if len(_DEFINITIONS_CACHE) >= _DEFINITIONS_CACHE_SIZE:
            _DEFINITIONS_CACHE.clear()
        _DEFINITIONS_CACHE[key] = result
    if isinstance(result, str):
        raise _Invalid(result)
    return result


def _parse_definitions(data: bytes) -> tuple[_Definition, ...]:
    """yaml.v2 decoding a fields file into ``[]MapStr``, reduced to what the check reads."""
    root = compose_yaml(data)
    if root is None or _is_null(root):
        return ()
    if not isinstance(root, yaml.SequenceNode):
        raise _Invalid(unmarshal_errors([type_error(root, "[]util.MapStr")]))
    errors = [
        type_error(item, "util.MapStr")
        for item in root.value
        if not isinstance(item, yaml.MappingNode) and not _is_null(item)
    ]
    if errors:
        raise _Invalid(unmarshal_errors(errors))
    return tuple(
        _definition(mapping_items(item), nested=False)
        if isinstance(item, yaml.MappingNode)
        else _Definition(None, None)
        for item in root.value
    )


def _definition(items: dict[str, yaml.Node], *, nested: bool) -> _Definition:
    name = _text(items["name"]) if "name" in items else None
    kind = _text(items["type"]) if "type" in items else None
    if nested or name not in _GROUPS or "fields" not in items:
        return _Definition(name, kind)
    children = items["fields"]
    if not isinstance(children, yaml.SequenceNode):
        return _Definition(name, kind, "fields was not []MapStr")
    for child in children.value:
        if not isinstance(child, yaml.MappingNode):
            return _Definition(
                name, kind, f"cannot create MapStr: unable to convert {_text(child)} to known type"
            )
    return _Definition(
        name,
        kind,
        tuple(_definition(mapping_items(child), nested=True) for child in children.value),
    )


def _find_field(definitions: Iterable[_Definition], name: str) -> str:
    """The type of the definition named ``name`` (``findField``)."""
    for definition in definitions:
        if definition.name is None:
            raise _Invalid("cannot get value (key: name): key not found")
        if definition.name != name:
            continue
        if definition.type is None:
            raise _Invalid("cannot get value (key: type): key not found")
        if definition.type in ("", "<nil>"):
            raise _Invalid(f"field '{name}' found, but type is undefined")
        return definition.type
    raise _Invalid(f"field '{name}' not found")


def _find_nested_field(definitions: Iterable[_Definition], name: str) -> str:
    """``findFieldSplit``: ``a.b`` as ``b`` among the ``fields`` of the definition ``a``."""
    *groups, last = name.split(".")
    current = definitions
    for group in groups:
        try:
            current = _group_fields(current, group)
        except _Invalid as exc:
            raise _Invalid(f"failed to find fields array: {exc}") from None
    return _find_field(current, last)


def _group_fields(definitions: Iterable[_Definition], group: str) -> tuple[_Definition, ...]:
    for definition in definitions:
        if definition.name is None:
            raise _Invalid("cannot get value (key: name): key not found")
        if definition.name != group:
            continue
        if definition.children is None:
            raise _Invalid("cannot get fields: key not found")
        if isinstance(definition.children, str):
            raise _Invalid(definition.children)
        return definition.children
    raise _Invalid(f"field '{group}' not found")

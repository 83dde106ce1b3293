"""From a package's files to a ``Package``: the reference's model, defaults and checks.

The reference maps ``manifest.yml`` and every ``data_stream/*/manifest.yml`` onto Go
structs, fills in derived fields (paths, assets, releases, ingestion methods), validates
the result and serialises it to the ``/package`` and ``/search`` documents. This module
does the same in the same order, so that both the documents and the first error a broken
package reports match. It reads files only through ``PackageReader``, so folders and zips
share every rule.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import orjson

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
    encode_value,
    is_empty,
    load_yaml,
    load_yaml_untyped,
    to_config,
    unmarshal_error,
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


# --- the model ---------------------------------------------------------------------------


def _struct(go_name: str, *fields: Field) -> Struct:
    return Struct(f"packages.{go_name}", fields)


_DEPRECATED = _struct(
    "Deprecated",
    Field("since", STR, omitempty=False),
    Field("description", STR, omitempty=False),
    Field(
        "replaced_by",
        OBJ,
        struct=_struct(
            "ReplacedBy",
            *(
                Field(name, STR)
                for name in ("package", "policy_template", "input", "data_stream", "variable")
            ),
        ),
    ),
)
_IMAGE = _struct(
    "Image",
    Field("src", STR, required=True, omitempty=False),
    Field("path", STR, omitempty=False),
    Field("title", STR),
    Field("size", STR),
    Field("type", STR),
)
_VARIABLE = _struct(
    "Variable",
    Field("name", STR, omitempty=False),
    Field("type", STR, omitempty=False),
    Field("title", STR),
    Field("description", STR),
    Field("multi", BOOL, omitempty=False),
    Field("required", BOOL, omitempty=False),
    Field("show_user", BOOL, omitempty=False),
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
_DEPLOYMENT_MODES = _struct(
    "DeploymentModes",
    Field(
        "default",
        OBJ,
        struct=_struct("DefaultDeploymentMode", Field("enabled", BOOL, omitempty=False)),
    ),
    Field(
        "agentless",
        OBJ,
        struct=_struct(
            "AgentlessDeploymentMode",
            Field("enabled", BOOL, omitempty=False),
            Field("is_default", PBOOL),
            Field("release", STR),
        ),
    ),
)
_POLICY_TEMPLATE = _struct(
    "PolicyTemplate",
    Field("name", STR, required=True, omitempty=False),
    Field("title", STR, required=True, omitempty=False),
    Field("description", STR, required=True, omitempty=False),
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
#: The ``/search`` view of a policy template (fields copied from the full one).
_BASE_POLICY_TEMPLATE = _struct(
    "BasePolicyTemplate",
    *(
        field
        for name in (
            "name",
            "title",
            "description",
            "icons",
            "categories",
            "deployment_modes",
            "data_streams",
            "deprecated",
        )
        for field in _POLICY_TEMPLATE.fields
        if field.attr == name
    ),
)
_VERSION_CONDITION = (Field("version", STR, omitempty=False),)
_CONDITIONS = _struct(
    "Conditions",
    Field("kibana", OBJ, struct=_struct("KibanaConditions", *_VERSION_CONDITION)),
    Field(
        "elastic",
        OBJ,
        struct=_struct(
            "ElasticConditions",
            Field("subscription", STR, omitempty=False),
            Field("capabilities", STRS),
        ),
    ),
    Field("agent", OBJ, struct=_struct("AgentConditions", *_VERSION_CONDITION)),
)
_NAMED = (Field("name", STR, required=True, omitempty=False),)
_REQUIREMENT = _struct(
    "PackageRequirement",
    Field("package", STR, required=True, omitempty=False),
    Field("version", STR, required=True, omitempty=False),
)
_ROOT_PRIVILEGE = (
    Field("privileges", OBJ, struct=_struct("AgentPrivileges", Field("root", BOOL))),
)
_DATA_STREAM = _struct(
    "DataStream",
    Field("type", STR, required=True, omitempty=False),
    Field("dataset", STR),
    Field("hidden", BOOL),
    Field("ilm_policy", STR),
    Field("dataset_is_prefix", BOOL),
    Field("title", STR, required=True, omitempty=False),
    Field("release", STR),
    Field("ingest_pipeline", STR),
    Field("streams", OBJS, struct=_STREAM),
    Field("package", STR),
    Field(
        "elasticsearch",
        OBJ,
        struct=_struct(
            "DataStreamElasticsearch",
            Field("index_template_settings", MAP, key="index_template.settings"),
            Field("index_template_mappings", MAP, key="index_template.mappings"),
            Field("ingest_pipeline_name", STR, key="ingest_pipeline.name"),
            Field(
                "privileges",
                OBJ,
                struct=_struct("DataStreamElasticsearchPrivileges", Field("indices", STRS)),
            ),
        ),
    ),
    Field("agent", OBJ, struct=_struct("DataStreamAgent", *_ROOT_PRIVILEGE)),
    Field("path", STR),
    Field("deprecated", OBJ, struct=_DEPRECATED),
)
_BASE_DATA_STREAM = _struct(
    "BaseDataStream",
    Field("type", STR),
    Field("dataset", STR, omitempty=False),
    Field("title", STR, omitempty=False),
    Field("deprecated", OBJ, struct=_DEPRECATED),
)
_PACKAGE = _struct(
    "Package",
    Field("name", STR, omitempty=False),
    Field("title", PSTR),
    Field("version", STR, omitempty=False),
    Field("release", STR),
    Field("source", OBJ, struct=_struct("Source", Field("license", STR))),
    Field("description", STR, omitempty=False),
    Field("type", STR, omitempty=False),
    Field("download", STR, omitempty=False),
    Field("path", STR, omitempty=False),
    Field("icons", OBJS, struct=_IMAGE),
    Field("policy_templates_behavior", STR),
    Field("conditions", OBJ, struct=_CONDITIONS),
    Field("owner", OBJ, struct=_struct("Owner", Field("type", STR), Field("github", STR))),
    Field("categories", STRS),
    Field("signature_path", STR),
    Field(
        "discovery",
        OBJ,
        struct=_struct(
            "Discovery",
            Field("fields", OBJS, struct=_struct("DiscoveryField", *_NAMED)),
            Field("datasets", OBJS, struct=_struct("DiscoveryDataset", *_NAMED)),
        ),
    ),
    Field("deprecated", OBJ, struct=_DEPRECATED),
    Field(
        "requires",
        OBJ,
        struct=_struct(
            "PackageRequirements",
            Field("input", OBJS, struct=_REQUIREMENT),
            Field("content", OBJS, struct=_REQUIREMENT),
        ),
    ),
    Field("group", STR),
    Field("format_version", STR, omitempty=False),
    Field("readme", PSTR),
    Field("license", STR),
    Field("screenshots", OBJS, struct=_IMAGE),
    Field("assets", STRS),
    Field("policy_templates", OBJS, struct=_POLICY_TEMPLATE),
    Field("vars", OBJS, struct=_VARIABLE),
    Field(
        "elasticsearch",
        OBJ,
        struct=_struct(
            "PackageElasticsearch",
            Field(
                "privileges",
                OBJ,
                struct=_struct("PackageElasticsearchPrivileges", Field("cluster", STRS)),
            ),
        ),
    ),
    Field("agent", OBJ, struct=_struct("PackageAgent", *_ROOT_PRIVILEGE)),
    # Filled in after mapping, never read from the manifest.
    Field("base_policy_templates", OBJS, None, _BASE_POLICY_TEMPLATE, json="policy_templates"),
    Field("data_streams", OBJS, None, _DATA_STREAM, json="data_streams"),
    Field("base_data_streams", OBJS, None, _BASE_DATA_STREAM, json="data_streams"),
)

_PACKAGE_FIELDS = {field.attr: field for field in _PACKAGE.fields}
#: Key order of the ``/package`` document (section 6.1) and of a ``/search`` item (6.2).
_FULL_ORDER = (
    "name", "title", "version", "release", "source", "description", "type", "download",
    "path", "icons", "policy_templates_behavior", "conditions", "owner", "categories",
    "signature_path", "discovery", "deprecated", "requires", "group", "format_version",
    "readme", "license", "screenshots", "assets", "policy_templates", "data_streams",
    "vars", "elasticsearch", "agent",
)  # fmt: skip
_SUMMARY_ORDER = (
    "name", "title", "version", "release", "source", "description", "type", "download",
    "path", "icons", "policy_templates_behavior", "base_policy_templates", "conditions",
    "owner", "categories", "signature_path", "discovery", "base_data_streams", "deprecated",
    "requires", "group",
)  # fmt: skip
_SUMMARY_KEYS = tuple(_PACKAGE_FIELDS[attr].json for attr in _SUMMARY_ORDER)

_RELEASES = ("experimental", "beta", "ga")
_AGENTLESS_RELEASES = ("beta", "ga")
_DATA_STREAM_TYPES = ("logs", "metrics", "synthetics", "traces")
_REQUIRED_FIELDS = (
    ("data_stream.type", "constant_keyword"),
    ("data_stream.dataset", "constant_keyword"),
    ("data_stream.namespace", "constant_keyword"),
    ("@timestamp", "date"),
)


def _document(record: dict[str, Any], order: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in order:
        field = _PACKAGE_FIELDS[attr]
        value = record[attr]
        if field.omitempty and is_empty(field, value):
            continue
        out[field.json] = encode_value(field, value)  # type: ignore[index]
    return out


def with_deprecation(package: Package, notice: dict[str, Any]) -> Package:
    """A copy of ``package`` whose package-level ``deprecated`` notice is ``notice``."""
    return replace(
        package,
        full=_with_key(package.full, _FULL_ORDER, "deprecated", notice),
        summary=_with_key(package.summary, _SUMMARY_KEYS, "deprecated", notice),
    )


def _with_key(doc: dict[str, Any], order: Iterable[str], key: str, value: Any) -> dict[str, Any]:
    return {k: value if k == key else doc[k] for k in order if k == key or k in doc}


# --- small Go helpers ----------------------------------------------------------------------


def clean_path(path: str) -> str:
    """Go's ``path.Clean``."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _join(*parts: str) -> str:
    """Go's ``path.Join``."""
    joined = "/".join(part for part in parts if part)
    return clean_path(joined) if joined else ""


_QUOTE_ESCAPES = {
    '"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f",
    "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
}  # fmt: skip


def _quote(text: str) -> str:
    """Go's ``%q`` of a string."""
    out = []
    for char in text:
        if char in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def _canonical(version: Version) -> str:
    """Masterminds' ``Version.String()``."""
    text = f"{version.major}.{version.minor}.{version.patch}"
    if version.prerelease:
        text += f"-{version.prerelease}"
    return text + (f"+{version.metadata}" if version.metadata else "")


def _default_release(version: Version) -> str:
    return "beta" if version.prerelease or version.major == 0 else "ga"


def _sprint(value: Any) -> str:
    """Go's ``%v`` of a value decoded from YAML (used in field-definition messages)."""
    if value is None:
        return "<nil>"
    if isinstance(value, list):
        return "[" + " ".join(_sprint(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{_sprint(k)}:{_sprint(v)}" for k, v in value.items()) + "]"
    return str(value)


_FAILURES = (_Invalid, ReaderError, YamlError, ConfigError)


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
        self._levels: list[list[Entry]] | None = None

    # files

    def levels(self, pattern: str) -> list[list[Entry]]:
        """Entries grouped by depth (index 0 is depth 1), up to the first empty depth."""
        if self._levels is None:
            try:
                entries = self.reader.walk()
            except ReaderError as exc:
                raise _Invalid(
                    f"failed to obtain path under package root path ({pattern}): {exc}"
                ) from None
            by_depth: dict[int, list[Entry]] = {}
            for entry in entries:
                by_depth.setdefault(entry.path.count("/"), []).append(entry)
            self._levels = []
            while len(self._levels) in by_depth:
                self._levels.append(by_depth[len(self._levels)])
        return self._levels

    def glob(self, pattern: str) -> list[Entry]:
        """The reference's ``Glob``: entries whose path matches ``pattern`` (``*`` = a name)."""
        parts = pattern.split("/")
        levels = self.levels(pattern)
        if len(parts) > len(levels):
            return []
        return [
            entry
            for entry in levels[len(parts) - 1]
            if all(
                want in ("*", got) for want, got in zip(parts, entry.path.split("/"), strict=True)
            )
        ]

    # package

    def load(self) -> Package:
        reader = self.reader
        config = to_config(load_yaml(reader.read("manifest.yml")))
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
        semver, kibana, agent, spec = self.runtime_fields(record)
        for image in (record["icons"] or []) + (record["screenshots"] or []):
            image["path"] = _join("/package", name, version, image["src"])
        record["release"] = record["release"] or _default_release(semver)
        if record["release"] not in _RELEASES:
            raise _Invalid(f"invalid release: {_quote(record['release'])}")
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
                f"policy template {_quote(name)}: invalid agentless release:"
                f" {_quote(agentless['release'])}"
            )

    def runtime_fields(
        self, record: dict[str, Any]
    ) -> tuple[Version, Constraint | None, Constraint | None, Version | None]:
        """Parsed version, Kibana and Agent ranges and spec version (``setRuntimeFields``)."""
        try:
            semver = Version.parse_strict(record["version"])
        except VersionError as exc:
            raise _Invalid(f"invalid package version: {exc}") from None
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
                raise _Invalid(
                    f"invalid {label} versions range {condition['version']}: {exc}"
                ) from None
        spec = None
        if record["format_version"]:
            try:
                parsed = Version.parse_strict(record["format_version"])
            except VersionError as exc:
                raise _Invalid(
                    f"invalid format spec version '{record['format_version']}': {exc}"
                ) from None
            spec = Version.parse_strict(f"{parsed.major}.{parsed.minor}.0")
        return semver, ranges[0], ranges[1], spec

    def assets(self, name: str, prefix: str) -> list[str]:
        """Files breadth-first by depth; a directory name with ``-`` fails the package."""
        assets = []
        for level in self.levels("*"):
            for entry in level:
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
        discovery = record["discovery"]
        fields = tuple(item["name"] for item in (discovery and discovery["fields"]) or ())
        datasets = tuple(item["name"] for item in (discovery and discovery["datasets"]) or ())
        if discovery is not None and not fields and not datasets:
            record["discovery"] = None
        elastic = record["conditions"] and record["conditions"]["elastic"]
        capabilities = elastic and elastic["capabilities"]
        internal = config.get("internal") if isinstance(config, dict) else None
        return Package(
            name=name,
            version=version,
            semver=semver,
            type=record["type"],
            release=record["release"],
            categories=tuple(categories),
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
            internal=internal is True or internal in ("1", "t", "T", "TRUE", "true", "True"),
            full=_document(record, _FULL_ORDER),
            summary=_document(record, _SUMMARY_ORDER),
            files=self.reader,
        )

    # data streams

    def data_streams(self, record: dict[str, Any], *, validating: bool) -> list[dict[str, Any]]:
        """Every ``data_stream/<dir>/manifest.yml``, loaded (and checked when ``validating``)."""
        streams = []
        for entry in self.glob("data_stream/*/manifest.yml"):
            directory = entry.path.split("/")[1]
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
            config = to_config(load_yaml(data))
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
            raise _Invalid(f"invalid release: {_quote(stream['release'])}")
        pipelines = [
            entry.name
            for entry in self.glob(f"data_stream/{directory}/elasticsearch/ingest_pipeline/*")
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
            raise _Invalid(
                f"unused pipelines in the package (dataset: {stream['dataset']}): {','.join(pipelines)}"
            )
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
        definitions: list[Any] = []
        for entry in self.glob(f"data_stream/{directory}/fields/*"):
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
                    f"wrong field type for '{name}' (expected: {expected}, got: {_sprint(found)})"
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
        document = load_yaml_untyped(data)
        if document is not None and not isinstance(document, dict):
            raise _Invalid(unmarshal_error(data, "map[string]interface {}"))
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


def _field_definitions(data: bytes) -> list[Any]:
    """The field definitions of one ``fields/*.yml`` (yaml.v2 into ``[]MapStr``)."""
    document = load_yaml_untyped(data)
    if document is None:
        return []
    if not isinstance(document, list):
        raise _Invalid(unmarshal_error(data, "[]util.MapStr"))
    if not all(item is None or isinstance(item, dict) for item in document):
        raise _Invalid(unmarshal_error(data, "[]util.MapStr", "util.MapStr"))
    return document


def _find_field(definitions: list[Any], name: str) -> Any:
    """The type of the definition named ``name`` (``findField``)."""
    for definition in definitions:
        if not isinstance(definition, dict) or "name" not in definition:
            raise _Invalid("cannot get value (key: name): key not found")
        if definition["name"] != name:
            continue
        if "type" not in definition:
            raise _Invalid("cannot get value (key: type): key not found")
        if definition["type"] == "":
            raise _Invalid(f"field '{name}' found, but type is undefined")
        return definition["type"]
    raise _Invalid(f"field '{name}' not found")


def _find_nested_field(definitions: list[Any], name: str) -> Any:
    """``findFieldSplit``: ``a.b`` as ``b`` inside the ``fields`` of the definition ``a``."""
    *groups, last = name.split(".")
    current = definitions
    for group in groups:
        try:
            current = _group_fields(current, group)
        except _Invalid as exc:
            raise _Invalid(f"failed to find fields array: {exc}") from None
    return _find_field(current, last)


def _group_fields(definitions: list[Any], group: str) -> list[Any]:
    for definition in definitions:
        if not isinstance(definition, dict) or "name" not in definition:
            raise _Invalid("cannot get value (key: name): key not found")
        if definition["name"] != group:
            continue
        if "fields" not in definition:
            raise _Invalid("cannot get fields: key not found")
        children = definition["fields"]
        if not isinstance(children, list):
            raise _Invalid("fields was not []MapStr")
        nested = []
        for child in children:
            if not isinstance(child, dict):
                raise _Invalid(
                    f"cannot create MapStr: unable to convert {_sprint(child)} to known type"
                )
            nested.append({_sprint(key): _sprint(value) for key, value in child.items()})
        return nested
    raise _Invalid(f"field '{group}' not found")

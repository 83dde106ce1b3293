"""The reference's Go structs of a package, field by field, as tables of ``Field``.

Mapping a manifest, checking its types and serialising the ``/package`` and ``/search``
documents all read these tables, so the key order and omitted fields match the reference.
"""

from __future__ import annotations

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
    Field,
    Struct,
)

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
BASE_POLICY_TEMPLATE = _struct(
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
DATA_STREAM = _struct(
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
BASE_DATA_STREAM = _struct(
    "BaseDataStream",
    Field("type", STR),
    _always("dataset"),
    _always("title"),
    Field("deprecated", OBJ, struct=_DEPRECATED),
)
PACKAGE = _struct(
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
    Field("base_policy_templates", OBJS, None, BASE_POLICY_TEMPLATE, json="policy_templates"),
    Field("data_streams", OBJS, None, DATA_STREAM, json="data_streams"),
    Field("base_data_streams", OBJS, None, BASE_DATA_STREAM, json="data_streams"),
)
_PACKAGE_FIELDS = {field.attr: field for field in PACKAGE.fields}
#: The ``/package`` document and the ``/search`` item (Go's ``Package`` and ``BasePackage``).
FULL_DOCUMENT = Struct(
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
SEARCH_ITEM = Struct(
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

RELEASES = ("experimental", "beta", "ga")
AGENTLESS_RELEASES = ("beta", "ga")
DATA_STREAM_TYPES = ("logs", "metrics", "synthetics", "traces")
REQUIRED_FIELDS = (
    ("data_stream.type", "constant_keyword"),
    ("data_stream.dataset", "constant_keyword"),
    ("data_stream.namespace", "constant_keyword"),
    ("@timestamp", "date"),
)

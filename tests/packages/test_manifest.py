"""Manifests to ``Package``: derived fields, defaults and errors.

Every test builds tiny packages in a temporary folder. (The comparison with the
reference's golden documents is in ``tests_kit/``.)
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from package_registry.packages.model import Package
from package_registry.packages.render import render_json
from package_registry.sources.base import LoadReport
from package_registry.sources.folders import load_folders


def load(*paths: Path, validate: bool = True) -> LoadReport:
    return load_folders(
        [str(p) for p in paths], validate=validate, require_signatures=False, workers=1
    )


def test_typed_fields_follow_the_manifest(tmp_path: Path) -> None:
    manifest = (
        "format_version: 1.0.0\n"
        "name: typed\ntitle: Typed\nversion: 1.0.0\ndescription: Typed fields.\n"
        "type: integration\nrelease: ga\ncategories: [crm, azure]\n"
        "conditions:\n  kibana:\n    version: '~7.x.x'\n"
        "policy_templates:\n"
        "  - name: logs\n    title: Logs\n    description: Log files.\n"
        "    categories: [datastore]\n    inputs:\n      - type: logfile\n"
    )
    write_package(tmp_path, {"manifest.yml": manifest}, name="typed", version="1.0.0")
    typed = only_package(tmp_path)
    assert (typed.type, typed.release, typed.categories) == ("integration", "ga", ("crm", "azure"))
    assert [(t.name, t.categories) for t in typed.policy_templates] == [("logs", ("datastore",))]
    assert typed.kibana is not None and typed.agent is None
    assert typed.spec is not None and str(typed.spec) == "1.0.0"
    assert typed.capabilities is None
    assert typed.files is not None and typed.files.kind == "folder"
    assert typed.internal is False


# --- hand-made packages ------------------------------------------------------------------

FIELDS = """\
- name: data_stream.type
  type: constant_keyword
- name: data_stream.dataset
  type: constant_keyword
- name: data_stream.namespace
  type: constant_keyword
- name: '@timestamp'
  type: date
"""
MANIFEST = """\
format_version: 3.0.0
name: tiny
title: Tiny
version: {version}
description: A tiny package.
"""


def write_package(
    root: Path, files: dict[str, str], *, name: str = "tiny", version: str = "0.1.0"
) -> Path:
    """A package folder ``root/<name>/<version>`` holding ``files`` plus a README."""
    folder = root / name / version
    for relpath, text in {"docs/README.md": "# Tiny\n", **files}.items():
        path = folder / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def only_package(root: Path, *, validate: bool = True) -> Package:
    report = load(root, validate=validate)
    assert report.rejects == [], report.rejects
    [package] = report.packages
    return package


def only_reject(root: Path) -> str:
    report = load(root)
    assert report.packages == []
    [reject] = report.rejects
    return reject.reason


def test_minimal_package_gets_the_reference_defaults(tmp_path: Path) -> None:
    write_package(
        tmp_path,
        {
            "manifest.yml": MANIFEST.format(version="0.1.0"),
            ".hidden": "x",
            ".DS_Store": "x",
            "img/icon.svg": "<svg/>",
        },
    )
    package = only_package(tmp_path)
    assert package.full == {
        "name": "tiny",
        "title": "Tiny",
        "version": "0.1.0",
        "release": "beta",
        "description": "A tiny package.",
        "type": "integration",
        "download": "/epr/tiny/tiny-0.1.0.zip",
        "path": "/package/tiny/0.1.0",
        "format_version": "3.0.0",
        "readme": "/package/tiny/0.1.0/docs/README.md",
        "license": "basic",
        "assets": [
            "/package/tiny/0.1.0/.hidden",
            "/package/tiny/0.1.0/manifest.yml",
            "/package/tiny/0.1.0/docs/README.md",
            "/package/tiny/0.1.0/img/icon.svg",
        ],
    }
    assert list(package.summary) == [
        "name", "title", "version", "release", "description", "type", "download", "path"
    ]  # fmt: skip


def test_yaml_11_values_and_dotted_keys_map_like_the_reference(tmp_path: Path) -> None:
    manifest = MANIFEST.format(version="1.0.0") + (
        "owner.github: someone\n"
        "conditions.elastic.capabilities: security\n"
        "categories: [security, not_a_category]\n"
        "policy_templates:\n"
        "  - name: main\n"
        "    title: 1.0\n"
        "    description: yes\n"
        "    multiple: 'false'\n"
        "    categories: custom\n"
    )
    package = only_package(
        write_package(tmp_path, {"manifest.yml": manifest}, version="1.0.0").parents[1]
    )
    assert package.full["owner"] == {"github": "someone"}
    assert package.full["conditions"] == {
        "elastic": {"subscription": "", "capabilities": ["security"]}
    }
    assert package.capabilities == ("security",)
    assert package.categories == ("security",)
    template = package.full["policy_templates"][0]
    assert (template["title"], template["description"], template["multiple"]) == (
        "1",
        "true",
        False,
    )
    assert package.summary["policy_templates"] == [
        {"name": "main", "title": "1", "description": "true", "categories": ["custom"]}
    ]


def test_unknown_category_is_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manifest = MANIFEST.format(version="0.1.0") + "categories: [nope]\n"
    write_package(tmp_path, {"manifest.yml": manifest})
    with caplog.at_level(logging.WARNING, logger="package_registry.sources"):
        package = only_package(tmp_path)
    assert package.categories == ()
    assert "categories" not in package.full
    [record] = [
        r
        for r in caplog.records
        if r.getMessage() == "package uses an unknown category, will be ignored"
    ]
    assert (record.package, record.version, record.category) == ("tiny", "0.1.0", "nope")  # type: ignore[attr-defined]


def test_internal_flag_is_ours_and_never_rendered(tmp_path: Path) -> None:
    write_package(tmp_path, {"manifest.yml": MANIFEST.format(version="0.1.0") + "internal: true\n"})
    package = only_package(tmp_path)
    assert package.internal is True
    assert "internal" not in package.full and "internal" not in package.summary


def test_data_stream_fields_are_derived(tmp_path: Path) -> None:
    stream = """\
title: Events
type: logs
streams:
  - input: logfile
    vars:
      - name: paths
        default: [a, 1.0]
      - name: weird
        default: {}
elasticsearch:
  index_template.settings:
    index.lifecycle.name: x
    b: 1
  index_template.mappings: {}
"""
    files = {
        "manifest.yml": MANIFEST.format(version="1.2.0-rc1"),
        "data_stream/events/manifest.yml": stream,
        "data_stream/events/fields/base.yml": FIELDS,
        "data_stream/events/elasticsearch/ingest_pipeline/default.yml": "processors: []\n",
    }
    package = only_package(write_package(tmp_path, files, version="1.2.0-rc1").parents[1])
    assert package.release == "beta"
    assert package.full["data_streams"] == [
        {
            "type": "logs",
            "dataset": "tiny.events",
            "title": "Events",
            "release": "beta",
            "ingest_pipeline": "default",
            "streams": [
                {
                    "input": "logfile",
                    "vars": [
                        {
                            "name": "paths",
                            "type": "",
                            "multi": False,
                            "required": False,
                            "show_user": False,
                            "default": ["a", 1],
                        },
                        {
                            "name": "weird",
                            "type": "",
                            "multi": False,
                            "required": False,
                            "show_user": False,
                        },
                    ],
                    "template_path": "stream.yml.hbs",
                    "enabled": True,
                    "ingestion_method": "File",
                }
            ],
            "package": "tiny",
            "elasticsearch": {
                "index_template.settings": {"b": 1, "index": {"lifecycle": {"name": "x"}}},
                "ingest_pipeline.name": "default",
            },
            "path": "events",
        }
    ]
    assert package.summary["data_streams"] == [
        {"type": "logs", "dataset": "tiny.events", "title": "Events"}
    ]


def test_input_package_ingestion_method_comes_from_the_table(tmp_path: Path) -> None:
    manifest = MANIFEST.format(version="0.1.0") + (
        "type: input\n"
        "policy_templates:\n"
        "  - {name: a, title: A, description: A, input: sql, ingestion_method: Custom}\n"
        "  - {name: b, title: B, description: B, input: aws-s3}\n"
    )
    write_package(tmp_path, {"manifest.yml": manifest, "docs/b.md": "# B\n"})
    templates = only_package(tmp_path).full["policy_templates"]
    assert "ingestion_method" not in templates[0]
    assert templates[1]["ingestion_method"] == "AWS S3"
    assert templates[1]["readme"] == "/package/tiny/0.1.0/docs/b.md"


def test_nan_default_loads_but_cannot_be_rendered(tmp_path: Path) -> None:
    manifest = MANIFEST.format(version="0.1.0") + "vars:\n  - name: x\n    default: .nan\n"
    write_package(tmp_path, {"manifest.yml": manifest})
    package = only_package(tmp_path)
    render_json(package.summary)
    with pytest.raises(ValueError, match="unsupported value"):
        render_json(package.full)


def test_disabled_validation_loads_an_incomplete_package(tmp_path: Path) -> None:
    write_package(tmp_path, {"manifest.yml": "name: tiny\nversion: 0.1.0\n"})
    assert "no format_version set" in only_reject(tmp_path)
    package = only_package(tmp_path, validate=False)
    assert "title" not in package.full and package.spec is None


def test_errors_carry_the_reference_wrapping(tmp_path: Path) -> None:
    folder = write_package(tmp_path, {"manifest.yml": MANIFEST.format(version="0.1.0")})
    (folder / "docs" / "README.md").unlink()
    assert only_reject(tmp_path) == (
        f"loading package failed (path: {folder}): failed to create package from path {folder}:"
        " no readme file found, README.md is required:"
        " stat docs/README.md: no such file or directory"
    )


def test_invalid_version_is_go_ucfg_validation_error(tmp_path: Path) -> None:
    folder = write_package(tmp_path, {"manifest.yml": MANIFEST.format(version="1.0")})
    assert only_reject(tmp_path) == (
        f"loading package failed (path: {folder}): failed to create package from path {folder}:"
        " invalid semantic version accessing config"
    )


def test_data_stream_validation_errors_are_wrapped_twice(tmp_path: Path) -> None:
    files = {
        "manifest.yml": MANIFEST.format(version="0.1.0"),
        "data_stream/events/manifest.yml": "title: Events\ntype: events\n",
    }
    folder = write_package(tmp_path, files)
    assert only_reject(tmp_path) == (
        f"loading package failed (path: {folder}): failed to create package from path {folder}:"
        " building data stream failed (path: data_stream/events): error building data stream"
        " (path: events) in package: tiny: type is not valid: events"
        " accessing config accessing config"
    )


def test_validation_checks_the_defaulted_dataset(tmp_path: Path) -> None:
    files = {
        "manifest.yml": MANIFEST.format(version="0.1.0"),
        "data_stream/my-events/manifest.yml": "title: Events\ntype: logs\n",
        "data_stream/my-events/fields/base.yml": FIELDS,
    }
    assert only_reject(write_package(tmp_path, files).parents[1]).endswith(
        "validating data stream failed (path: data_stream/my-events): data stream name is not"
        " allowed to contain `-`: tiny.my-events accessing config"
    )


def test_manifest_type_errors_read_like_go_ucfg(tmp_path: Path) -> None:
    manifest = MANIFEST.format(version="0.1.0") + "categories: [{a: b}]\n"
    write_package(tmp_path, {"manifest.yml": manifest})
    assert only_reject(tmp_path).endswith(
        "can not convert 'object' into 'string' accessing 'categories.0'"
    )


def test_yaml_errors_read_like_yaml_v2(tmp_path: Path) -> None:
    write_package(tmp_path, {"manifest.yml": "name: [tiny\n"})
    # Parser errors report yaml.v2's zero-based line (scanner errors add one).
    assert only_reject(tmp_path).endswith(": yaml: line 1: did not find expected ',' or ']'")


def test_unused_pipeline_fails_the_package(tmp_path: Path) -> None:
    files = {
        "manifest.yml": MANIFEST.format(version="0.1.0"),
        "data_stream/events/manifest.yml": "title: Events\ntype: logs\n",
        "data_stream/events/fields/base.yml": FIELDS,
        "data_stream/events/elasticsearch/ingest_pipeline/other.yml": "processors: []\n",
    }
    folder = write_package(tmp_path, files)
    assert only_reject(tmp_path).endswith(
        "unused pipelines in the package (dataset: tiny.events):"
        " data_stream/events/elasticsearch/ingest_pipeline/other.yml accessing config"
    )
    assert folder.is_dir()


def test_broken_fields_file_fails_validation(tmp_path: Path) -> None:
    files = {
        "manifest.yml": MANIFEST.format(version="0.1.0"),
        "data_stream/events/manifest.yml": "title: Events\ntype: logs\n",
        "data_stream/events/fields/base.yml": FIELDS,
        "data_stream/events/fields/more.yml": "name: not a list\n",
    }
    write_package(tmp_path, files)
    assert (
        "validating required fields failed: unmarshaling file failed (path:"
        " data_stream/events/fields/more.yml): yaml: unmarshal errors:\n"
        "  line 1: cannot unmarshal !!map into []util.MapStr"
    ) in only_reject(tmp_path)


def test_nested_field_definitions_satisfy_the_check(tmp_path: Path) -> None:
    nested = (
        "- name: data_stream\n  type: group\n  fields:\n"
        "    - {name: type, type: constant_keyword}\n"
        "    - {name: dataset, type: constant_keyword}\n"
        "    - {name: namespace, type: constant_keyword}\n"
        "- {name: '@timestamp', type: date}\n"
    )
    files = {
        "manifest.yml": MANIFEST.format(version="0.1.0"),
        "data_stream/events/manifest.yml": "title: Events\ntype: logs\n",
        "data_stream/events/fields/base.yml": nested,
    }
    write_package(tmp_path, files)
    assert only_package(tmp_path).full["data_streams"][0]["dataset"] == "tiny.events"

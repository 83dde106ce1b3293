"""The legacy ``ingest_pipeline`` check of a data stream: the file exists and decodes.

The reference requires a data stream's named ingest pipeline to exist as JSON and/or YAML
and to decode into an object; the check and Go's decoder error texts live here.
"""

from __future__ import annotations

import posixpath

import orjson
import yaml

from package_registry.gopath import join_path
from package_registry.packages.errors import FAILURES, Invalid, ReaderError, json_kind
from package_registry.packages.reader import PackageReader
from package_registry.packages.yamlload import (
    compose_yaml,
    is_null_node,
    type_error,
    unmarshal_errors,
)


def check_pipeline(reader: PackageReader, directory: str, pipeline: str) -> None:
    """The legacy ``ingest_pipeline`` must exist as ``.json`` and/or ``.yml`` and parse."""
    pipeline_dir = f"data_stream/{directory}/elasticsearch/ingest_pipeline"
    json_path = join_path(pipeline_dir, f"{pipeline}.json")
    found = False
    for path, kind in ((json_path, "JSON"), (join_path(pipeline_dir, f"{pipeline}.yml"), "YAML")):
        try:
            reader.is_dir(path)
        except ReaderError as exc:
            if exc.not_found:
                continue
            raise Invalid(
                f"stat ingest pipeline {kind} file failed (path: {json_path}): {exc}"
            ) from None
        try:
            _check_pipeline_document(reader, path)
        except FAILURES as exc:
            raise Invalid(
                f"validating ingest pipeline {kind} file failed (path: {json_path}): {exc}"
            ) from None
        found = True
    if not found:
        raise Invalid(f"defined ingest_pipeline does not exist: {pipeline_dir}{pipeline}")


def _check_pipeline_document(reader: PackageReader, path: str) -> None:
    """An ingest pipeline file must decode into a JSON/YAML object (or be null)."""
    try:
        data = reader.read(path, reader.limits.yaml)
    except ReaderError as exc:
        raise Invalid(f"reading ingest pipeline file failed (path: {path}): {exc}") from None
    extension = posixpath.splitext(path)[1]
    if extension == ".json":
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError:
            try:
                document = orjson.loads(data.decode("utf-8", "replace"))
            except orjson.JSONDecodeError as exc:
                raise Invalid(str(exc)) from None
        if document is not None and not isinstance(document, dict):
            raise Invalid(
                f"json: cannot unmarshal {json_kind(document)} into Go value of type"
                " map[string]interface {}"
            )
    elif extension == ".yml":
        root = compose_yaml(data)
        if root is not None and not isinstance(root, yaml.MappingNode) and not is_null_node(root):
            raise Invalid(unmarshal_errors([type_error(root, "map[string]interface {}")]))
    else:
        raise Invalid(f"unsupported pipeline extension (path: {path}, ext: {extension})")

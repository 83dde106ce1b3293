"""The data streams of a package: each ``data_stream/<dir>/manifest.yml`` and its checks.

The reference loads and validates data streams apart from the package manifest
(``NewDataStream``, ``DataStream.Validate``), with its own defaults and error wrapping,
so that logic lives here beside the package-level loader rather than inside it.
"""

from __future__ import annotations

import posixpath
from typing import Any

from package_registry.gotext import go_quote
from package_registry.packages.errors import FAILURES, Invalid, ReaderError
from package_registry.packages.fields import check_required_fields
from package_registry.packages.pipelines import check_pipeline
from package_registry.packages.reader import PackageListing
from package_registry.packages.schema import DATA_STREAM, DATA_STREAM_TYPES, RELEASES
from package_registry.packages.tables import INGESTION_METHODS
from package_registry.packages.yamlload import ConfigError, YamlError, load_config, unpack


class DataStreams:
    """The data streams of one package being loaded, read through its shared listing."""

    def __init__(self, files: PackageListing, validate: bool) -> None:
        self.files = files
        self.reader = files.reader
        self.validate = validate

    def data_streams(self, record: dict[str, Any], *, validating: bool) -> list[dict[str, Any]]:
        """Every ``data_stream/<dir>/manifest.yml``, loaded (and checked when ``validating``)."""
        streams = []
        manifests = [
            entry.path.split("/")
            for entry in self.files.listing("data_stream/*/manifest.yml").get(2, [])
            if entry.path.startswith("data_stream/") and entry.path.endswith("/manifest.yml")
        ]
        for _, directory, _ in manifests:
            base = f"data_stream/{directory}"
            try:
                stream, manifest_pipeline = self.data_stream(record, directory)
            except FAILURES as exc:
                if validating:
                    raise Invalid(f"building data stream failed (path: {base}): {exc}") from None
                raise
            if validating:
                try:
                    self.check_dataset(stream)
                    if stream["ingest_pipeline"] != manifest_pipeline:
                        check_pipeline(self.reader, directory, stream["ingest_pipeline"])
                except FAILURES as exc:
                    raise Invalid(f"validating data stream failed (path: {base}): {exc}") from None
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
                raise Invalid(
                    f"manifest does not exist for data stream: {self.reader.location}: {exc}"
                ) from None
        try:
            data = self.reader.read(manifest, self.reader.limits.manifest)
        except ReaderError as exc:
            raise Invalid(f"failed to read manifest: {exc}: {exc}") from None
        try:
            config = load_config(data)
        except (YamlError, ConfigError) as exc:
            raise Invalid(f"error creating new manifest config: {exc}") from None
        try:
            stream = unpack(config, DATA_STREAM, preset={"package": name, "path": directory})
            if self.validate:
                try:
                    self.check_data_stream(stream, directory)
                except FAILURES as exc:
                    raise ConfigError(f"{exc} accessing config") from None
        except ConfigError as exc:
            raise Invalid(
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
        if stream["release"] not in RELEASES:
            raise Invalid(f"invalid release: {go_quote(stream['release'])}")
        pipelines = [
            entry.name
            for entry in self.files.children(
                f"data_stream/{directory}/elasticsearch/ingest_pipeline"
            )
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
            raise Invalid(f"unused pipelines in the package (dataset: {dataset}): {names}")
        return stream, manifest_pipeline

    def check_data_stream(self, stream: dict[str, Any], directory: str) -> None:
        """``DataStream.Validate`` as go-ucfg runs it, on the manifest's own values."""
        self.check_dataset(stream)
        if stream["type"] not in DATA_STREAM_TYPES:
            raise Invalid(f"type is not valid: {stream['type']}")
        if stream["ingest_pipeline"]:
            check_pipeline(self.reader, directory, stream["ingest_pipeline"])
        try:
            check_required_fields(self.files, directory)
        except FAILURES as exc:
            raise Invalid(f"validating required fields failed: {exc}") from None
        for item in stream["streams"] or ():
            if not item["input"] and not item["package"]:
                raise Invalid(f"stream {item['title']} must have a input or package")
            if item["input"] and item["package"]:
                raise Invalid(f"stream {item['title']} must have a input or package, but not both")

    @staticmethod
    def check_dataset(stream: dict[str, Any]) -> None:
        if "-" in stream["dataset"]:
            raise Invalid(f"data stream name is not allowed to contain `-`: {stream['dataset']}")

"""From JSON documents another registry wrote back to ``Package`` objects.

Proxy mode reads ``/search`` items and ``/package/{name}/{version}/`` documents from an
upstream registry. The reference decodes them into its package model and encodes them
again, so this module does the same with the layouts ``packages.schema`` describes:
keys outside the model are dropped, keys come out in the reference's order with its
omission rules, free-form maps get sorted keys and their numbers become Go float64
values. Versions must be strict semver and conditions valid constraints; anything
else makes the whole answer fail (``JsonModelError``).
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from package_registry.packages.errors import json_kind
from package_registry.packages.model import Package
from package_registry.packages.records import RuntimeFieldError, package_of, runtime_fields
from package_registry.packages.render import json_float
from package_registry.packages.schema import BASE_DATA_STREAM, BASE_POLICY_TEMPLATE, FULL_DOCUMENT
from package_registry.packages.yamlload import (
    ANY,
    BOOL,
    MAP,
    OBJ,
    PBOOL,
    PSTR,
    STR,
    STRS,
    Struct,
)

__all__ = [
    "JsonModelError",
    "RemoteCategory",
    "decode_categories",
    "decode_package",
    "decode_packages",
    "package_from_json",
]


class JsonModelError(ValueError):
    """The JSON does not decode into the reference's model; ``str`` says where and why."""


def _mismatch(value: Any, path: str, go_type: str) -> JsonModelError:
    return JsonModelError(
        f"json: cannot unmarshal {json_kind(value)} into Go struct field {path} of type {go_type}"
    )


def free_form(value: Any, path: str = "value") -> Any:
    """An ``interface{}`` value as Go decodes and encodes it: numbers are float64, maps
    have sorted keys."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            raise JsonModelError(
                f"json: cannot unmarshal number {value} into Go value of type float64"
            ) from None
        if math.isinf(number):
            raise JsonModelError(f"json: cannot unmarshal number into Go value at {path}")
        return json_float(number)
    if isinstance(value, list):
        return [free_form(item, path) for item in value]
    return {key: free_form(value[key], path) for key in sorted(value)}


def _decode_field(kind: str, struct: Struct | None, value: Any, path: str) -> Any:
    """One field's value from JSON; ``value`` is never ``None`` here."""
    if kind in (STR, PSTR):
        if not isinstance(value, str):
            raise _mismatch(value, path, "string")
        return value
    if kind in (BOOL, PBOOL):
        if not isinstance(value, bool):
            raise _mismatch(value, path, "bool")
        return value
    if kind == STRS:
        if not isinstance(value, list):
            raise _mismatch(value, path, "[]string")
        out = []
        for item in value:
            if item is not None and not isinstance(item, str):
                raise _mismatch(item, path, "string")
            out.append(item or "")
        return out
    if kind == ANY:
        return free_form(value, path)
    if kind == MAP:
        if not isinstance(value, dict):
            raise _mismatch(value, path, "map[string]interface {}")
        return free_form(value, path)
    assert struct is not None
    if kind == OBJ:
        if not isinstance(value, dict):
            raise _mismatch(value, path, struct.go_name)
        return _decode_struct(value, struct, path)
    if not isinstance(value, list):
        raise _mismatch(value, path, "[]" + struct.go_name)
    out = []
    for item in value:
        if item is not None and not isinstance(item, dict):
            raise _mismatch(item, path, struct.go_name)
        out.append(_decode_struct(item or {}, struct, path))
    return out


def _zero(kind: str) -> Any:
    return "" if kind == STR else False if kind == BOOL else None


def _decode_struct(obj: dict[str, Any], struct: Struct, path: str = "") -> dict[str, Any]:
    """A record (``attr`` → value) of ``struct`` from a JSON object; other keys are dropped.

    Absent and ``null`` keys leave the Go zero value, as ``encoding/json`` does.
    """
    name = struct.go_name.rpartition(".")[2]
    record: dict[str, Any] = {}
    for field in struct.fields:
        value = obj.get(field.json)
        if value is None:
            record[field.attr] = _zero(field.kind)
        else:
            field_path = f"{path or name}.{field.json}"
            record[field.attr] = _decode_field(field.kind, field.struct, value, field_path)
    return record


def package_from_json(obj: Any) -> Package:
    """A ``Package`` (without files) from a ``/search`` item or a ``/package`` document.

    Both are decoded into the full model, as the reference does: the ``/search`` view
    (base policy templates and data streams) is derived from it, so a search item and
    the full document of the same package give the same ``summary``.

    ``"internal": true`` (as the reference wrote it before it stopped hiding internal
    packages) marks the package internal, so storage and upstream packages are hidden
    from ``/search`` by the same rule as local ones; any other value hides nothing, as
    for a manifest.
    """
    if not isinstance(obj, dict):
        raise _mismatch(obj, "Package", "packages.Package")
    record = _decode_struct(obj, FULL_DOCUMENT, "Package")
    record["base_policy_templates"] = [
        {field.attr: template[field.attr] for field in BASE_POLICY_TEMPLATE.fields}
        for template in record["policy_templates"] or ()
    ] or None
    record["base_data_streams"] = [
        {field.attr: stream[field.attr] for field in BASE_DATA_STREAM.fields}
        for stream in record["data_streams"] or ()
    ] or None
    try:
        runtime = runtime_fields(record)
    except RuntimeFieldError as exc:
        raise JsonModelError(f"{record['name']}: {exc}") from None
    return package_of(record, runtime, internal=obj.get("internal") is True, files=None)


def _parse(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise JsonModelError(f"invalid JSON: {exc}") from None


def decode_packages(data: bytes) -> list[Package]:
    """The packages of a ``/search`` answer (a JSON array of search items)."""
    items = _parse(data)
    if not isinstance(items, list):
        raise JsonModelError(
            f"json: cannot unmarshal {json_kind(items)} into Go value of type packages.Packages"
        )
    return [package_from_json(item) for item in items]


def decode_package(data: bytes) -> Package:
    """The package of a ``/package/{name}/{version}/`` answer."""
    return package_from_json(_parse(data))


#: One ``/categories`` item: id, title, count, parent id, parent title.
RemoteCategory = tuple[str, str, int, str, str]


def decode_categories(data: bytes) -> list[RemoteCategory]:
    """The items of a ``/categories`` answer, absent fields as Go's zero values."""
    items = _parse(data)
    if not isinstance(items, list):
        raise JsonModelError(
            f"json: cannot unmarshal {json_kind(items)} into Go value of type []packages.Category"
        )
    out: list[RemoteCategory] = []
    for item in items:
        if item is None:
            item = {}
        if not isinstance(item, dict):
            raise _mismatch(item, "Category", "packages.Category")
        texts = []
        for key in ("id", "title", "parent_id", "parent_title"):
            value = item.get(key)
            if value is not None and not isinstance(value, str):
                raise _mismatch(value, f"Category.{key}", "string")
            texts.append(value or "")
        count = item.get("count")
        if count is None:
            count = 0
        elif isinstance(count, bool) or not isinstance(count, int) or abs(count) >= 2**63:
            raise _mismatch(count, "Category.count", "int")
        out.append((texts[0], texts[1], count, texts[2], texts[3]))
    return out

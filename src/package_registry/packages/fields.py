"""The required-fields check of a data stream: ``data_stream.*`` and ``@timestamp`` types.

The reference reads every ``fields/*.yml`` of a data stream as yaml.v2 would and looks up
four fields by name; decoding is reduced to what that lookup reads, and cached by content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from package_registry.packages.errors import Invalid, ReaderError
from package_registry.packages.reader import PackageListing
from package_registry.packages.schema import REQUIRED_FIELDS
from package_registry.packages.yamlload import (
    YamlError,
    compose_yaml,
    go_float_text,
    is_null_node,
    mapping_items,
    scalar_value,
    type_error,
    unmarshal_errors,
)


def check_required_fields(files: PackageListing, directory: str) -> None:
    """``data_stream.*`` must be ``constant_keyword`` and ``@timestamp`` a ``date``."""
    definitions: list[_Definition] = []
    for entry in files.children(f"data_stream/{directory}/fields"):
        try:
            data = files.reader.read(entry.name, files.reader.limits.yaml)
        except ReaderError as exc:
            raise Invalid(f"reading file failed (path: {entry.name}): {exc}") from None
        try:
            definitions.extend(_field_definitions(data))
        except (YamlError, Invalid) as exc:
            raise Invalid(f"unmarshaling file failed (path: {entry.name}): {exc}") from None
    for name, expected in REQUIRED_FIELDS:
        try:
            found = _find_field(definitions, name)
        except Invalid:
            try:
                found = _find_nested_field(definitions, name)
            except Invalid as exc:
                raise Invalid(f"finding field failed (searchedName: {name}): {exc}") from None
        if found != expected:
            raise Invalid(f"wrong field type for '{name}' (expected: {expected}, got: {found})")


def _sprint(value: Any) -> str:
    """Go's ``%v`` of a scalar decoded from YAML."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float_text(value)
    return str(value)


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


_GROUPS = frozenset(name.split(".")[0] for name, _ in REQUIRED_FIELDS if "." in name)
_DEFINITIONS_CACHE: dict[bytes, tuple[_Definition, ...] | str] = {}
_DEFINITIONS_CACHE_SIZE = 4096


def _field_definitions(data: bytes) -> tuple[_Definition, ...]:
    """The definitions of one ``fields/*.yml``; identical files are parsed once."""
    key = hashlib.blake2b(data, digest_size=16).digest()
    result = _DEFINITIONS_CACHE.get(key)
    if result is None:
        try:
            result = _parse_definitions(data)
        except (YamlError, Invalid) as exc:
            result = str(exc)
        if len(_DEFINITIONS_CACHE) >= _DEFINITIONS_CACHE_SIZE:
            _DEFINITIONS_CACHE.clear()
        _DEFINITIONS_CACHE[key] = result
    if isinstance(result, str):
        raise Invalid(result)
    return result


def _parse_definitions(data: bytes) -> tuple[_Definition, ...]:
    """yaml.v2 decoding a fields file into ``[]MapStr``, reduced to what the check reads."""
    root = compose_yaml(data)
    if root is None or is_null_node(root):
        return ()
    if not isinstance(root, yaml.SequenceNode):
        raise Invalid(unmarshal_errors([type_error(root, "[]util.MapStr")]))
    errors = [
        type_error(item, "util.MapStr")
        for item in root.value
        if not isinstance(item, yaml.MappingNode) and not is_null_node(item)
    ]
    if errors:
        raise Invalid(unmarshal_errors(errors))
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
            raise Invalid("cannot get value (key: name): key not found")
        if definition.name != name:
            continue
        if definition.type is None:
            raise Invalid("cannot get value (key: type): key not found")
        if definition.type in ("", "<nil>"):
            raise Invalid(f"field '{name}' found, but type is undefined")
        return definition.type
    raise Invalid(f"field '{name}' not found")


def _find_nested_field(definitions: Iterable[_Definition], name: str) -> str:
    """``findFieldSplit``: ``a.b`` as ``b`` among the ``fields`` of the definition ``a``."""
    *groups, last = name.split(".")
    current = definitions
    for group in groups:
        try:
            current = _group_fields(current, group)
        except Invalid as exc:
            raise Invalid(f"failed to find fields array: {exc}") from None
    return _find_field(current, last)


def _group_fields(definitions: Iterable[_Definition], group: str) -> tuple[_Definition, ...]:
    for definition in definitions:
        if definition.name is None:
            raise Invalid("cannot get value (key: name): key not found")
        if definition.name != group:
            continue
        if definition.children is None:
            raise Invalid("cannot get fields: key not found")
        if isinstance(definition.children, str):
            raise Invalid(definition.children)
        return definition.children
    raise Invalid(f"field '{group}' not found")

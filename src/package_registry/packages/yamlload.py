"""Manifest YAML read the way the reference reads it: yaml.v2 scalars, then go-ucfg.

The reference parses manifests with gopkg.in/yaml.v2 (YAML 1.1: ``y``/``on`` are
booleans, ``0x1f`` and ``1_000`` are integers, ``1e3`` is a float, timestamps stay
strings) and maps them with go-ucfg, which splits dotted keys into nested objects and
coerces values into typed fields in its own way. libyaml does the parsing here; this
module supplies the scalar rules, the dotted-key merge and the field coercions, each
with the reference's error text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

from package_registry.packages.render import json_float

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_UINT64_MAX = 2**64 - 1


class YamlError(ValueError):
    """The document is not YAML; ``str`` is yaml.v2's message."""


class ConfigError(ValueError):
    """go-ucfg refused a value; ``str`` is its message."""


# --- scalars -----------------------------------------------------------------------------

_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
_NUMBER_TAG = "tag:go-yaml:number"
_BOOLS = {
    **dict.fromkeys(
        ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True
    ),
    **dict.fromkeys(
        ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False
    ),
}
_SPECIAL_FLOATS = {
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
}
_GO_INT = re.compile(r"([-+]?)(0[bB][01]+|0[oO][0-7]+|0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")


def _go_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)``, falling back to ``ParseUint`` as yaml.v2 does."""
    match = _GO_INT.fullmatch(text)
    if match is None:
        return None
    sign, digits = match.groups()
    if len(digits) > 1 and digits[0] == "0" and digits[1] in "01234567":
        number = int(digits, 8)
    else:
        number = int(digits, 0)
    if sign == "-":
        number = -number
    if _INT64_MIN <= number <= _INT64_MAX or (not sign and number <= _UINT64_MAX):
        return number
    return None


def resolve_plain(text: str) -> Any:
    """Resolve an unquoted scalar starting with a digit, a sign or a dot, as yaml.v2 does."""
    special = _SPECIAL_FLOATS.get(text)
    if special is not None:
        return special
    if text[0] == ".":
        return float(text) if _DOT_FLOAT.fullmatch(text) else text
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return number
    if _YAML_FLOAT.fullmatch(plain):
        value = float(plain)
        if value not in (float("inf"), float("-inf")):
            return value
    return text


class _GoYamlLoader(yaml.CSafeLoader):
    """libyaml parser with yaml.v2's implicit typing of plain scalars."""


_GoYamlLoader.yaml_implicit_resolvers = {}
_GoYamlLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:%s)$" % "|".join(_BOOLS)), list("yYnNtTfFoO")
)
_GoYamlLoader.add_implicit_resolver(
    _NULL_TAG, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
_GoYamlLoader.add_implicit_resolver(_NUMBER_TAG, re.compile(r"^[-+.0-9]"), list("-+.0123456789"))


def _construct_bool(loader: yaml.BaseLoader, node: yaml.ScalarNode) -> Any:
    return _BOOLS.get(node.value, node.value)


def _construct_number(loader: yaml.BaseLoader, node: yaml.ScalarNode) -> Any:
    return resolve_plain(node.value) if node.value else None


def _construct_text(loader: yaml.BaseLoader, node: yaml.ScalarNode) -> Any:
    return node.value


def _construct_binary(loader: yaml.BaseLoader, node: yaml.ScalarNode) -> Any:
    raw = yaml.SafeLoader.construct_yaml_binary(loader, node)  # type: ignore[arg-type]
    return raw.decode("utf-8", "replace")


_GoYamlLoader.add_constructor(_BOOL_TAG, _construct_bool)
_GoYamlLoader.add_constructor(_NUMBER_TAG, _construct_number)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:int", _construct_number)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:float", _construct_number)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_text)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:merge", _construct_text)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:binary", _construct_binary)


def _yaml_error(exc: yaml.YAMLError) -> YamlError:
    """Word a libyaml failure as yaml.v2 does: ``yaml: line N: <problem>``."""
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None)
    if not problem:
        return YamlError("yaml: unknown problem parsing YAML content")
    line = 0
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    if problem_mark is not None and problem_mark.line:
        line = problem_mark.line + (1 if isinstance(exc, yaml.scanner.ScannerError) else 0)
    elif context_mark is not None and context_mark.line:
        line = context_mark.line
    where = f"line {line}: " if line else ""
    return YamlError(f"yaml: {where}{problem}")


def _load_first_document(data: bytes, loader_class: type[yaml.BaseLoader]) -> Any:
    loader = loader_class(data)
    try:
        return loader.get_data() if loader.check_data() else None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    finally:
        loader.dispose()


def load_yaml(data: bytes) -> Any:
    """Parse the first YAML document of ``data`` with yaml.v2's scalar typing."""
    return _load_first_document(data, _GoYamlLoader)


def load_yaml_untyped(data: bytes) -> Any:
    """Parse the first document keeping every scalar as its text (structure checks only)."""
    return _load_first_document(data, yaml.CBaseLoader)


def _short_tag(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "!!map"
    if isinstance(node, yaml.SequenceNode):
        return "!!seq"
    if node.tag == _NUMBER_TAG:
        value = resolve_plain(node.value)
        return (
            "!!str"
            if isinstance(value, str)
            else "!!float"
            if isinstance(value, float)
            else "!!int"
        )
    return "!!" + node.tag.rsplit(":", 1)[-1]


def _type_error(node: yaml.Node, target: str) -> str:
    where = f"line {node.start_mark.line + 1}: cannot unmarshal {_short_tag(node)}"
    if isinstance(node, yaml.ScalarNode):
        value = node.value if len(node.value) <= 10 else node.value[:7] + "..."
        where += f" `{value}`"
    return f"{where} into {target}"


def unmarshal_error(data: bytes, target: str, item_target: str | None = None) -> str:
    """yaml.v2's type error for a document that is not a ``target`` (or whose items are not
    ``item_target``, for a sequence of mappings)."""
    loader = _GoYamlLoader(data)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    if item_target is None or not isinstance(root, yaml.SequenceNode):
        errors = [_type_error(root, target)]
    else:
        errors = [
            _type_error(item, item_target)
            for item in root.value
            if not isinstance(item, yaml.MappingNode) and item.tag != _NULL_TAG
        ]
    return "yaml: unmarshal errors:\n  " + "\n  ".join(errors)


# --- go-ucfg: dotted keys ----------------------------------------------------------------


def type_name(value: Any) -> str:
    """go-ucfg's name for the type of a value (used in its error messages)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "uint" if value > 0 else "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "any"
    return "object"


def _go_top_level_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if _INT64_MIN <= value <= _INT64_MAX else "uint64"
    if isinstance(value, float):
        return "float64"
    return "string"


def to_config(document: Any) -> dict[str, Any] | list[Any]:
    """Turn a parsed manifest into go-ucfg's tree (dotted keys nested, forms merged)."""
    if document is None:
        return {}
    if isinstance(document, (dict, list)):
        return _normalize(document)
    raise ConfigError(
        f"type '{_go_top_level_type(document)}' is not supported on top level of config,"
        " only dictionary or list"
    )


def _normalize(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(
                    "(assert) string key required when merging into"
                    " 'map[interface {}]interface {}' accessing config"
                )
            _set_path(out, key.split("."), key, _normalize(item))
        return out
    if isinstance(value, list):
        return [_normalize(item) for item in value]
    return value


def _set_path(root: dict[str, Any], parts: list[str], key: str, value: Any) -> None:
    """Store ``value`` under the split ``key`` the way go-ucfg's normalizeSetField does."""
    node = root
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            for rest in parts[depth:-1]:
                node[rest] = node = {}
            break
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(
                f"required 'object', but found '{type_name(child)}' in field '{where}'"
            )
        node = child
    last = parts[-1]
    old = node.get(last)
    if old is None:
        node[last] = value
    elif value is None:
        return
    elif isinstance(old, (dict, list)) and isinstance(value, (dict, list)):
        node[last] = _merge(old, value)
    else:
        raise ConfigError(f"duplicate key accessing '{key}'")


def _merge(old: Any, new: Any) -> Any:
    """go-ucfg's mergeValues: objects merge key by key, arrays index by index."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key, value in new.items():
            old[key] = _merge(old[key], value) if key in old else value
        return old
    if isinstance(old, list) and isinstance(new, list):
        merged = [_merge(a, b) for a, b in zip(old, new, strict=False)]
        return merged + (new[len(old) :] if len(new) > len(old) else old[len(new) :])
    if new is None and isinstance(old, (dict, list)):
        return old
    return new


# --- go-ucfg: typed fields ---------------------------------------------------------------


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``abs(value)`` and the decimal exponent of the first."""
    sign, digits, exponent = Decimal(repr(abs(value))).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    return text, len(digits) + int(exponent) - 1


def go_float_text(value: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, exponent form outside [1e-4, 1e6)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if value < 0 or (value == 0 and str(value).startswith("-")) else ""
    if value == 0:
        return f"{sign}0"
    digits, exp = _shortest_digits(value)
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    if len(digits) <= exp + 1:
        return f"{sign}{digits}{'0' * (exp + 1 - len(digits))}"
    return f"{sign}{digits[: exp + 1]}.{digits[exp + 1 :]}"


def as_string(value: Any, path: str) -> str:
    """Coerce a present, non-null value into a Go string field."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float_text(value)
    raise ConfigError(f"can not convert '{type_name(value)}' into 'string' accessing '{path}'")


_PARSE_BOOL = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def as_bool(value: Any, path: str) -> bool:
    """Coerce a present, non-null value into a Go bool field (``strconv.ParseBool`` text)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in _PARSE_BOOL:
        return _PARSE_BOOL[value]
    raise ConfigError(f"can not convert '{type_name(value)}' into 'bool' accessing '{path}'")


def as_list(value: Any) -> list[Any]:
    """The elements go-ucfg unpacks into a slice: objects give none, scalars give one."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return []
    return [value]


def reify(value: Any) -> Any:
    """A free-form value as Go holds it in ``interface{}``: empty objects become null."""
    if isinstance(value, dict):
        if not value:
            return None
        return {key: reify(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [reify(item) for item in value]
    if isinstance(value, float):
        return json_float(value)
    return value


def reify_map(value: Any, path: str) -> dict[str, Any]:
    """A ``map[string]interface{}`` field: entries that reify to null are left out."""
    if isinstance(value, list):
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"required 'object', but found '{type_name(value)}' in field '{path}'")
    out = {}
    for key in sorted(value):
        item = reify(value[key])
        if item is not None:
            out[key] = item
    return out


# --- go-ucfg: structs --------------------------------------------------------------------

#: Field kinds: Go string, *string, bool, *bool, []string, *struct, []struct,
#: interface{} and map[string]interface{}.
STR, PSTR, BOOL, PBOOL, STRS, OBJ, OBJS, ANY, MAP = (
    "str",
    "pstr",
    "bool",
    "pbool",
    "strs",
    "obj",
    "objs",
    "any",
    "map",
)
_ZERO: dict[str, Any] = {STR: "", BOOL: False}
_POINTERS = frozenset((PSTR, PBOOL, OBJ, ANY))
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Field:
    """One struct field: its config key (dots are a path), kind and JSON encoding."""

    attr: str
    kind: str
    #: Config key; ``""`` means ``attr``, ``None`` a field never read from the config.
    key: str | None = ""
    struct: Struct | None = None
    #: go-ucfg's ``validate:"required"`` (strings only in this model).
    required: bool = False
    #: JSON key; ``""`` means the config key (or ``attr``), ``None`` keeps it out of JSON.
    json: str | None = ""
    #: JSON ``omitempty``.
    omitempty: bool = True
    parts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.key == "":
            object.__setattr__(self, "key", self.attr)
        if self.json == "":
            object.__setattr__(self, "json", self.key or self.attr)
        if self.key is not None:
            object.__setattr__(self, "parts", tuple(self.key.split(".")))


@dataclass(frozen=True, slots=True)
class Struct:
    """A Go struct: its type name (for go-ucfg messages) and fields in declaration order."""

    go_name: str
    fields: tuple[Field, ...]


def _lookup(node: Any, field: Field, path: str) -> Any:
    """Find a field's value; intermediate path steps must be objects, as in go-ucfg."""
    current = node
    last = len(field.parts) - 1
    for index, part in enumerate(field.parts):
        if not isinstance(current, dict):
            return _MISSING
        current = current.get(part, _MISSING)
        if current is _MISSING or current is None:
            return current
        if index < last and not isinstance(current, (dict, list)):
            where = ".".join(filter(None, (path, *field.parts[: index + 1])))
            raise ConfigError(
                f"required 'object', but found '{type_name(current)}' in field '{where}'"
            )
    return current


def unpack(
    node: Any, struct: Struct, path: str = "", preset: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Reify a config object into a record (``attr`` → value), as ``Config.Unpack`` would.

    Absent and null keys keep the ``preset`` value or the Go zero value; ``required``
    strings must end up non-empty.
    """
    record = dict(preset) if preset else {}
    prefix = f"{path}." if path else ""
    for field in struct.fields:
        if field.key is None:
            record.setdefault(field.attr, _ZERO.get(field.kind))
            continue
        field_path = prefix + field.key
        value = _lookup(node, field, path)
        if value is _MISSING or value is None:
            if field.attr not in record:
                record[field.attr] = _ZERO.get(field.kind)
        else:
            record[field.attr] = _convert(field, value, field_path)
        if field.required and record[field.attr] == "":
            raise ConfigError(f"string value is not set accessing '{field_path}'")
    return record


def _convert(field: Field, value: Any, path: str) -> Any:
    kind = field.kind
    if kind in (STR, PSTR):
        return as_string(value, path)
    if kind in (BOOL, PBOOL):
        return as_bool(value, path)
    if kind == ANY:
        return reify(value)
    if kind == MAP:
        return reify_map(value, path)
    if kind == STRS:
        if not isinstance(value, list):
            return [] if isinstance(value, dict) else [as_string(value, path)]
        return [
            "" if item is None else as_string(item, f"{path}.{i}") for i, item in enumerate(value)
        ]
    assert field.struct is not None
    if kind == OBJ:
        return _unpack_element(value, field.struct, path)
    if not isinstance(value, list):
        return [] if isinstance(value, dict) else [_unpack_element(value, field.struct, path)]
    return [_unpack_element(item, field.struct, f"{path}.{i}") for i, item in enumerate(value)]


def _unpack_element(value: Any, struct: Struct, path: str) -> dict[str, Any]:
    if value is not None and not isinstance(value, (dict, list)):
        raise ConfigError(
            f"(assert) value of type '{type_name(value)}' not convertible into unsupported"
            f" go type '{struct.go_name}' accessing '{path}'"
        )
    return unpack(value, struct, path)


def is_empty(field: Field, value: Any) -> bool:
    """Whether JSON ``omitempty`` drops this value (pointers only when nil)."""
    if field.kind in _POINTERS:
        return value is None
    return not value


def to_document(record: dict[str, Any], struct: Struct) -> dict[str, Any]:
    """Encode a record the way ``encoding/json`` encodes the struct: order and omissions."""
    out: dict[str, Any] = {}
    for field in struct.fields:
        if field.json is None:
            continue
        value = record[field.attr]
        if field.omitempty and is_empty(field, value):
            continue
        out[field.json] = encode_value(field, value)
    return out


def encode_value(field: Field, value: Any) -> Any:
    """The JSON value of one field (nested structs encoded recursively)."""
    if field.kind == OBJ:
        return to_document(value, field.struct)  # type: ignore[arg-type]
    if field.kind == OBJS:
        return [to_document(item, field.struct) for item in value]  # type: ignore[arg-type]
    return value

"""Manifest YAML read the way the reference reads it: yaml.v2 values, then go-ucfg.

The reference decodes manifests with gopkg.in/yaml.v2 (YAML 1.1: ``y`` and ``on`` are
booleans, ``0x1f`` and ``1_000`` integers, timestamps stay text) and maps them onto
structs with go-ucfg, which splits dotted keys into nested objects and coerces values its
own way. This module rebuilds both on libyaml's parser, error texts included.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
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


def _resolve_plain(text: str) -> Any:
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


class _Composer(yaml.CBaseLoader):
    """libyaml parser building nodes only: scalars keep their text, typing happens later.

    The per-node resolver hooks are C builtins that do nothing (``"".format`` returns
    ``""`` whatever it is given), so composing calls no Python code of its own.
    """

    resolve = descend_resolver = ascend_resolver = "".format


def compose_yaml(data: bytes) -> yaml.Node | None:
    """The node tree of the first document (cheaper than building Python values)."""
    loader = _Composer(data)
    try:
        return loader.get_node() if loader.check_node() else None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    finally:
        loader.dispose()


_TAG_PREFIX = "tag:yaml.org,2002:"
_NULLS = ("", "~", "null", "Null", "NULL")
_NUMERIC_START = frozenset("-+.0123456789")


def scalar_value(node: yaml.ScalarNode) -> Any:
    """The value yaml.v2 decodes from a scalar: plain ones are typed, quoted ones are text."""
    text = node.value
    if node.tag:
        kind = node.tag.removeprefix(_TAG_PREFIX)
        if kind == "binary":
            try:
                raw = base64.b64decode(text.replace("\n", "").replace("\r", ""), validate=True)
                return raw.decode("utf-8", "replace")
            except ValueError:
                raise YamlError("yaml: !!binary value contains invalid base64 data") from None
        if kind in ("int", "float", "bool", "null"):
            return _plain_value(text)
        return text
    if node.style:
        return text
    return _plain_value(text)


def is_null_node(node: yaml.Node) -> bool:
    """Whether ``node`` is a scalar yaml.v2 decodes as nil."""
    return isinstance(node, yaml.ScalarNode) and scalar_value(node) is None


def _plain_value(text: str) -> Any:
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text[0] in _NUMERIC_START:
        return _resolve_plain(text)
    return text


def _is_merge(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value == "<<" and not node.style


class _Decoder:
    """yaml.v2's decoding of a node tree into ``interface{}`` values.

    Aliases are expanded; a self-containing anchor and excessive aliasing (yaml.v2's
    ratio rule against "billion laughs" documents) are errors, as in yaml.v2.
    """

    def __init__(self) -> None:
        self.decoded = 0
        self.aliased = 0
        self.seen: set[int] = set()
        self.active: set[int] = set()

    def decode(self, node: yaml.Node, in_alias: bool = False) -> Any:
        self.decoded += 1
        if isinstance(node, yaml.ScalarNode):
            if in_alias:
                self._count_alias()
            return scalar_value(node)
        key = id(node)
        if key in self.active:
            raise YamlError("yaml: anchor value contains itself")
        in_alias = in_alias or key in self.seen
        if in_alias:
            self._count_alias()
        self.seen.add(key)
        self.active.add(key)
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.decode(item, in_alias) for item in node.value]
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if _is_merge(key_node):
                    self._merge(value_node, out, in_alias)
                    continue
                map_key = self.decode(key_node, in_alias)
                if isinstance(map_key, (dict, list)):
                    raise YamlError(f"yaml: invalid map key: {map_key!r}")
                out[map_key] = self.decode(value_node, in_alias)
            return out
        finally:
            self.active.discard(key)

    def _merge(self, node: yaml.Node, out: dict[Any, Any], in_alias: bool) -> None:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in reversed(sources):
            value = self.decode(source, in_alias)
            if not isinstance(value, dict):
                raise YamlError("yaml: map merge requires map or sequence of maps as the value")
            out.update(value)

    def _count_alias(self) -> None:
        self.aliased += 1
        if self.aliased > 100 and self.decoded > 1000:
            low, high = 400_000, 4_000_000
            allowed = 0.99 - 0.89 * (min(max(self.decoded, low), high) - low) / (high - low)
            if self.aliased / self.decoded > allowed:
                raise YamlError("yaml: document contains excessive aliasing")


class _Fallback(Exception):
    """The fast decoder met something only ``_Decoder`` handles exactly."""


_ScalarNode = yaml.ScalarNode
_MappingNode = yaml.MappingNode
_SequenceNode = yaml.SequenceNode
#: Untagged plain scalars whose value is not text: yaml.v2's nulls and booleans.
_PLAIN_WORDS: dict[str, Any] = {**dict.fromkeys(_NULLS), **_BOOLS}


def _scalar_fast(node: yaml.ScalarNode) -> Any:
    """``scalar_value`` with the common case (untagged plain text) first."""
    if node.tag or node.style:
        return scalar_value(node)
    text = node.value
    value = _PLAIN_WORDS.get(text, _MISSING)
    if value is not _MISSING:
        return value
    if text[0] in _NUMERIC_START:
        return _resolve_plain(text)
    return text


def _decode_tree(node: yaml.Node, flags: list[bool]) -> Any:
    """``_Decoder.decode`` for a node *tree* (no anchors) without merge keys.

    Raises ``_Fallback`` on a merge key or a non-scalar key. ``flags[0]`` is set when a
    mapping key is not dot-free text, i.e. when go-ucfg's normalisation changes anything.
    """
    cls = node.__class__
    if cls is _MappingNode:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not _ScalarNode or (
                key_node.value == "<<" and not key_node.style
            ):
                raise _Fallback
            key = _scalar_fast(key_node)
            if key.__class__ is not str or "." in key:
                flags[0] = True
            cls = value_node.__class__
            out[key] = (
                _scalar_fast(value_node) if cls is _ScalarNode else _decode_tree(value_node, flags)
            )
        return out
    if cls is _SequenceNode:
        return [
            _scalar_fast(item) if item.__class__ is _ScalarNode else _decode_tree(item, flags)
            for item in node.value
        ]
    return _scalar_fast(node)


def _decode(data: bytes) -> tuple[Any, bool]:
    """The first document's values, and whether go-ucfg normalisation may change them.

    Without an ``&`` byte (in any encoding libyaml reads) there is no anchor, hence no
    alias, so the node graph is a tree and the alias bookkeeping can be skipped.
    """
    root = compose_yaml(data)
    if root is None:
        return None, False
    if b"&" not in data:
        flags = [False]
        try:
            return _decode_tree(root, flags), flags[0]
        except (_Fallback, YamlError):
            pass  # the exact decoder decides, and words any error
    return _Decoder().decode(root), True


def load_yaml(data: bytes) -> Any:
    """Parse the first YAML document of ``data`` into the values yaml.v2 would give."""
    return _decode(data)[0]


def load_config(data: bytes) -> dict[str, Any] | list[Any]:
    """``to_config(load_yaml(data))``, skipping the normalisation copy when it is a no-op.

    With only dot-free text keys, go-ucfg's normalisation rebuilds the same tree.
    """
    document, needs_normalizing = _decode(data)
    if not needs_normalizing and isinstance(document, (dict, list)):
        return document
    return to_config(document)


def mapping_items(node: yaml.MappingNode) -> dict[str, yaml.Node]:
    """A mapping node's entries by key text, ``<<`` merges applied as yaml.v2 does."""
    items: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        if key.value == "<<" and not key.style:
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    items.update(mapping_items(source))
        else:
            items[key.value] = value
    return items


def _short_tag(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "!!map"
    if isinstance(node, yaml.SequenceNode):
        return "!!seq"
    value = scalar_value(node)
    for kind, tag in ((bool, "!!bool"), (int, "!!int"), (float, "!!float"), (str, "!!str")):
        if isinstance(value, kind):
            return tag
    return "!!null"


def type_error(node: yaml.Node, target: str) -> str:
    """One line of yaml.v2's ``unmarshal errors`` for ``node`` not fitting ``target``."""
    where = f"line {node.start_mark.line + 1}: cannot unmarshal {_short_tag(node)}"
    if isinstance(node, yaml.ScalarNode):
        value = node.value if len(node.value) <= 10 else node.value[:7] + "..."
        where += f" `{value}`"
    return f"{where} into {target}"


def unmarshal_errors(lines: list[str]) -> str:
    """yaml.v2's ``TypeError`` text."""
    return "yaml: unmarshal errors:\n  " + "\n  ".join(lines)


# --- go-ucfg: dotted keys ----------------------------------------------------------------


def _type_name(value: Any) -> str:
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


def _expected_object(value: Any, path: str) -> ConfigError:
    return ConfigError(f"required 'object', but found '{_type_name(value)}' in field '{path}'")


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
            if item.__class__ in _CONTAINERS:
                item = _normalize(item)
            if "." not in key and out.get(key) is None:
                out[key] = item  # what _set_path does for a fresh single-part key
            else:
                _set_path(out, key.split("."), key, item)
        return out
    if isinstance(value, list):
        return [_normalize(item) if item.__class__ in _CONTAINERS else item for item in value]
    return value


_CONTAINERS = frozenset((dict, list))


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
            raise _expected_object(child, ".".join(parts[: depth + 1]))
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
    _, digits, exponent = Decimal(repr(abs(value))).as_tuple()
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
    raise ConfigError(f"can not convert '{_type_name(value)}' into 'string' accessing '{path}'")


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
    raise ConfigError(f"can not convert '{_type_name(value)}' into 'bool' accessing '{path}'")


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
        raise _expected_object(value, path)
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
    #: JSON key; ``""`` means the config key (or ``attr``).
    json: str = ""
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
    #: ``unpack``'s and ``to_document``'s per-field tables, built on first use.
    plans: tuple[tuple[Any, ...], tuple[Any, ...]] | None = dataclass_field(
        default=None, compare=False, repr=False
    )


_TEXT_KINDS = frozenset((STR, PSTR))
#: ``to_document``'s omission rules: never, when nil (pointers), when empty.
_KEEP, _OMIT_NIL, _OMIT_EMPTY = 0, 1, 2


def _plans(struct: Struct) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Precomputed field tables, so the per-value loops do no attribute look-ups."""
    plans = struct.plans
    if plans is None:
        reading = tuple(
            (
                field.attr,
                field.key,
                len(field.parts) == 1,
                field.kind in _TEXT_KINDS,
                _ZERO.get(field.kind),
                field.required,
                field,
            )
            for field in struct.fields
        )
        writing = tuple(
            (
                field.attr,
                field.json,
                _KEEP
                if not field.omitempty
                else (_OMIT_NIL if field.kind in _POINTERS else _OMIT_EMPTY),
                field.kind,
                field.struct,
            )
            for field in struct.fields
        )
        plans = (reading, writing)
        object.__setattr__(struct, "plans", plans)
    return plans


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
            raise _expected_object(
                current, ".".join(filter(None, (path, *field.parts[: index + 1])))
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
    mapping = node if isinstance(node, dict) else None
    for attr, key, simple, text, zero, required, field in _plans(struct)[0]:
        if key is None:
            record.setdefault(attr, zero)
            continue
        if simple:
            value = None if mapping is None else mapping.get(key)
        else:
            value = _lookup(node, field, path)
            if value is _MISSING:
                value = None
        if value is None:
            if attr not in record:
                record[attr] = zero
        elif text and value.__class__ is str:
            record[attr] = value
        else:
            record[attr] = _convert(field, value, prefix + key)
        if required and record[attr] == "":
            raise ConfigError(f"string value is not set accessing '{prefix + key}'")
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
            f"(assert) value of type '{_type_name(value)}' not convertible into unsupported"
            f" go type '{struct.go_name}' accessing '{path}'"
        )
    return unpack(value, struct, path)


def to_document(record: dict[str, Any], struct: Struct) -> dict[str, Any]:
    """Encode a record the way ``encoding/json`` encodes the struct: order and omissions.

    ``omitempty`` drops empty strings, ``false``, empty lists and maps, and nil pointers
    (a pointer to an empty struct is kept and written as ``{}``).
    """
    out: dict[str, Any] = {}
    for attr, json_key, omit, kind, sub in _plans(struct)[1]:
        value = record[attr]
        if omit and (value is None if omit == _OMIT_NIL else not value):
            continue
        if kind == OBJ:
            value = to_document(value, sub)
        elif kind == OBJS:
            value = [to_document(item, sub) for item in value]
        out[json_key] = value
    return out

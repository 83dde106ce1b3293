"""yaml.v2 scalar typing, go-ucfg dotted keys and the coercions into typed fields."""

from __future__ import annotations

import math
from typing import Any

import pytest

from package_registry.packages.yamlload import (
    OBJ,
    OBJS,
    STR,
    STRS,
    ConfigError,
    Field,
    Struct,
    YamlError,
    as_bool,
    as_string,
    go_float_text,
    load_yaml,
    reify,
    reify_map,
    to_config,
    unpack,
)


def scalar(text: str) -> Any:
    return load_yaml(f"v: {text}\n".encode())["v"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        *(
            pytest.param(t, True, id=f"true-{t}")
            for t in ("y", "Y", "yes", "Yes", "on", "ON", "true")
        ),
        *(pytest.param(t, False, id=f"false-{t}") for t in ("n", "N", "no", "NO", "off", "False")),
        pytest.param("yEs", "yEs", id="mixed-case-is-text"),
        pytest.param("~", None, id="tilde"),
        pytest.param("null", None, id="null"),
        pytest.param("", None, id="empty"),
        pytest.param("0x1F", 31, id="hex"),
        pytest.param("017", 15, id="leading-zero-octal"),
        pytest.param("0o17", 15, id="0o-octal"),
        pytest.param("0b101", 5, id="binary"),
        pytest.param("1_000", 1000, id="underscores"),
        pytest.param("+12", 12, id="plus-sign"),
        pytest.param("08", 8.0, id="bad-octal-is-float"),
        pytest.param("1e3", 1000.0, id="exponent-float"),
        pytest.param("1.", 1.0, id="trailing-dot-float"),
        pytest.param("-.5", -0.5, id="dot-float"),
        pytest.param(".5_0", ".5_0", id="dot-with-underscore-is-text"),
        pytest.param("1e400", "1e400", id="overflowing-float-is-text"),
        pytest.param("18446744073709551615", 18446744073709551615, id="uint64"),
        pytest.param("1.0.0", "1.0.0", id="version-is-text"),
        pytest.param("2001-12-14", "2001-12-14", id="timestamp-is-text"),
        pytest.param("2001-12-14T21:59:43.10Z", "2001-12-14T21:59:43.10Z", id="datetime-is-text"),
        pytest.param('"123"', "123", id="quoted-number-is-text"),
        pytest.param("'yes'", "yes", id="quoted-bool-is-text"),
        pytest.param("!!str 12", "12", id="explicit-str"),
        pytest.param("!!binary aGVsbG8=", "hello", id="binary"),
    ],
)
def test_scalars_resolve_like_yaml_v2(text: str, value: Any) -> None:
    assert scalar(text) == value
    assert type(scalar(text)) is type(value)


@pytest.mark.parametrize("text", [".inf", "+.Inf", "-.INF", ".nan"])
def test_special_floats_resolve(text: str) -> None:
    value = scalar(text)
    assert isinstance(value, float) and (math.isinf(value) or math.isnan(value))


def test_boolean_keys_are_not_strings() -> None:
    assert load_yaml(b"y: 1\nn: 2\n") == {True: 1, False: 2}


def test_merge_keys_and_aliases_expand() -> None:
    doc = load_yaml(b"base: &b {a: 1, b: 2}\nitem:\n  <<: *b\n  b: 3\n")
    assert doc["item"] == {"a": 1, "b": 3}


def test_only_the_first_document_is_read() -> None:
    assert load_yaml(b"a: 1\n---\nb: 2\n") == {"a": 1}


def test_empty_document_is_none() -> None:
    assert load_yaml(b"# nothing\n") is None


def test_self_containing_anchor_is_an_error() -> None:
    with pytest.raises(YamlError, match="contains itself"):
        load_yaml(b"a: &x\n  b: *x\n")


def test_excessive_aliasing_is_an_error() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    with pytest.raises(YamlError, match="excessive aliasing"):
        load_yaml("\n".join(lines).encode())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(b"a: [1, 2", "yaml: line 1: did not find expected ',' or ']'", id="flow"),
        pytest.param(b"a:\n  - b\n c: d\n", "yaml: line 2: did not find expected key", id="key"),
        pytest.param(
            b"a: b: c\n", "yaml: mapping values are not allowed in this context", id="first-line"
        ),
        pytest.param(b"key: 'open\n", "yaml: line 2: found unexpected end of stream", id="eof"),
    ],
)
def test_syntax_errors_read_like_yaml_v2(text: bytes, message: str) -> None:
    with pytest.raises(YamlError) as caught:
        load_yaml(text)
    assert str(caught.value) == message


def test_dotted_keys_become_nested_objects() -> None:
    config = to_config(load_yaml(b"owner.github: x\nconditions: {kibana.version: ^8}\n"))
    assert config == {"owner": {"github": "x"}, "conditions": {"kibana": {"version": "^8"}}}


def test_dotted_and_nested_forms_deep_merge() -> None:
    config = to_config(load_yaml(b"a.b.c: 1\na:\n  b:\n    d: 2\n  e: 3\n"))
    assert config == {"a": {"b": {"c": 1, "d": 2}, "e": 3}}


def test_dotted_keys_inside_free_form_values_are_split_too() -> None:
    config = to_config(load_yaml(b"settings:\n  index.lifecycle.name: ref\n"))
    assert config == {"settings": {"index": {"lifecycle": {"name": "ref"}}}}


def test_null_never_overrides_a_value() -> None:
    assert to_config({"a.b": 1, "a": None}) == {"a": {"b": 1}}
    assert to_config({"a": None, "a.b": 1}) == {"a": {"b": 1}}


def test_same_leaf_twice_is_a_duplicate_key() -> None:
    with pytest.raises(ConfigError, match=r"^duplicate key accessing 'a.b'$"):
        to_config({"a": {"b": 1}, "a.b": 2})


def test_value_under_a_scalar_needs_an_object() -> None:
    with pytest.raises(ConfigError, match=r"^required 'object', but found 'uint' in field 'a'$"):
        to_config({"a": 1, "a.b": 2})


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="string key required"):
        to_config(load_yaml(b"on: push\n"))


def test_top_level_scalar_is_refused() -> None:
    with pytest.raises(ConfigError, match="type 'string' is not supported on top level"):
        to_config("hello")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        (-2, "-2"),
        (1.0, "1"),
        (1.5, "1.5"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (True, "true"),
        ("x", "x"),
    ],
)
def test_scalars_coerce_into_strings_like_go(value: Any, text: str) -> None:
    assert as_string(value, "f") == text


def test_objects_do_not_coerce_into_strings() -> None:
    with pytest.raises(
        ConfigError, match=r"^can not convert 'object' into 'string' accessing 'a.0'$"
    ):
        as_string({"x": 1}, "a.0")


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("1", True), ("F", False), ("0", False)]
)
def test_parse_bool_strings_coerce_into_bools(text: str, value: bool) -> None:
    assert as_bool(text, "f") is value


@pytest.mark.parametrize(
    ("value", "kind"), [("yes", "string"), (1, "uint"), (0, "int"), (1.5, "float")]
)
def test_other_values_do_not_coerce_into_bools(value: Any, kind: str) -> None:
    with pytest.raises(ConfigError, match=rf"^can not convert '{kind}' into 'bool' accessing 'f'$"):
        as_bool(value, "f")


def test_go_float_text_uses_shortest_digits() -> None:
    assert go_float_text(0.1) == "0.1"
    assert go_float_text(-0.0) == "-0"
    assert go_float_text(1234567.0) == "1.234567e+06"


_ITEM = Struct("packages.Item", (Field("name", STR, required=True), Field("tags", STRS)))
_HOLDER = Struct(
    "packages.Holder",
    (Field("items", OBJS, struct=_ITEM), Field("single", OBJ, struct=_ITEM), Field("tags", STRS)),
)


def test_unpack_wraps_a_scalar_given_for_a_list() -> None:
    record = unpack({"tags": "one", "items": [{"name": 1, "tags": ["a", None, 2.0]}]}, _HOLDER)
    assert record["tags"] == ["one"]
    assert record["items"] == [{"name": "1", "tags": ["a", "", "2"]}]
    assert record["single"] is None


def test_unpack_reads_an_object_given_for_a_list_as_empty() -> None:
    assert unpack({"tags": {"a": 1}}, _HOLDER)["tags"] == []


def test_unpack_requires_required_strings_with_their_path() -> None:
    with pytest.raises(ConfigError, match=r"^string value is not set accessing 'items.1.name'$"):
        unpack({"items": [{"name": "a"}, {"tags": []}]}, _HOLDER)
    with pytest.raises(ConfigError, match=r"^string value is not set accessing 'items.0.name'$"):
        unpack({"items": [None]}, _HOLDER)


def test_unpack_refuses_a_scalar_given_for_a_struct() -> None:
    with pytest.raises(
        ConfigError, match=r"not convertible into unsupported go type 'packages\.Item'"
    ):
        unpack({"single": "text"}, _HOLDER)


def test_unpack_keeps_presets_for_absent_keys() -> None:
    struct = Struct("packages.S", (Field("package", STR), Field("path", STR)))
    assert unpack({"path": None}, struct, preset={"package": "p", "path": "d"}) == {
        "package": "p",
        "path": "d",
    }
    assert unpack({"package": "q"}, struct, preset={"package": "p", "path": "d"})["package"] == "q"


def test_reify_turns_empty_objects_into_null_and_sorts_keys() -> None:
    assert reify({}) is None
    assert reify([]) == []
    value = reify({"b": {}, "a": [1.0, {"y": 1, "x": None}]})
    assert value == {"a": [1, {"x": None, "y": 1}], "b": None}
    assert list(value) == ["a", "b"]
    assert list(value["a"][1]) == ["x", "y"]


def test_reify_map_drops_top_level_nulls() -> None:
    assert reify_map({"keep": 0, "gone": None, "empty": {}}, "f") == {"keep": 0}
    assert reify_map(["ignored"], "f") == {}
    with pytest.raises(ConfigError, match=r"^required 'object', but found 'string' in field 'f'$"):
        reify_map("text", "f")

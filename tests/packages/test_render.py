"""Go-compatible JSON: layout, escaping and float formatting of ``render_json``."""

from __future__ import annotations

import json

import pytest

from package_registry.packages.render import json_float, render_json


def test_render_uses_two_space_indent_and_ends_with_newline() -> None:
    out = render_json({"a": [1, {"b": True}], "c": None})
    assert out == b'{\n  "a": [\n    1,\n    {\n      "b": true\n    }\n  ],\n  "c": null\n}\n'


def test_render_writes_empty_containers_inline() -> None:
    assert render_json({"list": [], "map": {}}) == b'{\n  "list": [],\n  "map": {}\n}\n'


def test_render_keeps_insertion_order_of_keys() -> None:
    assert render_json({"z": 1, "a": 2}) == b'{\n  "z": 1,\n  "a": 2\n}\n'


def test_render_does_not_escape_html_or_non_ascii() -> None:
    text = "<a href='x'>&</a> \u2014 \u2019\x7f"
    assert render_json(text) == f'"{text}"\n'.encode()


def test_render_escapes_control_characters_like_go() -> None:
    assert render_json('\b\f\n\r\t\x01\x1f"\\') == b'"\\b\\f\\n\\r\\t\\u0001\\u001f\\"\\\\"\n'


def test_render_escapes_line_and_paragraph_separators() -> None:
    assert render_json("a\u2028b\u2029c") == b'"a\\u2028b\\u2029c"\n'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(1.0, "1", id="integral"),
        pytest.param(-3.0, "-3", id="negative-integral"),
        pytest.param(0.5, "0.5", id="fraction"),
        pytest.param(1e16, "10000000000000000", id="large-integral"),
        pytest.param(1.2345678901234567e20, "123456789012345670000", id="shortest-digits"),
        pytest.param(1e20, "100000000000000000000", id="beyond-int64"),
        pytest.param(1e21, "1e+21", id="exponent-from-1e21"),
        pytest.param(2.5e-6, "0.0000025", id="fixed-down-to-1e-6"),
        pytest.param(1e-6, "0.000001", id="1e-6-is-fixed"),
        pytest.param(1e-7, "1e-7", id="exponent-below-1e-6"),
        pytest.param(1.5e300, "1.5e+300", id="huge"),
        pytest.param(-0.0, "-0", id="negative-zero"),
        pytest.param(0.0, "0", id="zero"),
    ],
)
def test_json_float_renders_as_go_does(value: float, text: str) -> None:
    assert render_json([json_float(value)]) == f"[\n  {text}\n]\n".encode()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_render_refuses_what_go_cannot_encode(value: float) -> None:
    with pytest.raises(ValueError, match="json: unsupported value"):
        render_json({"default": json_float(value)})


def test_rendered_documents_parse_back() -> None:
    doc = {"n": json_float(2.0), "s": "x\u2028", "l": [json_float(1e-6)]}
    assert json.loads(render_json(doc)) == {"n": 2, "s": "x\u2028", "l": [1e-6]}

"""The fast decoding path must give exactly what the exact path (decode, normalise) gives."""

from __future__ import annotations

import pytest

from package_registry.packages.yamlload import (
    ConfigError,
    YamlError,
    _Decoder,
    compose_yaml,
    load_config,
    load_yaml,
    to_config,
)

DOCUMENTS = [
    b"a: 1\nb: [x, 'y', \"0x1f\", 0x1f, 1_000, on, ~, .5, 1e3, -.inf]\n",
    b"a.b: 1\na: {c: 2}\n",
    b"a: 1\na: 2\n",  # duplicate keys: the last value wins
    b"y: 1\nn: 2\n",  # boolean keys
    b"1: x\n",
    b"base: {a: 1}\nitem:\n  <<: {b: 2}\n  c: 3\n",  # merge key, no anchor
    b"base: &b {a: 1}\nitem:\n  <<: *b\n",
    b"text: 'Q&A'\nn: !!int 12\ns: !!str 12\nb: !!binary aGk=\n",
    b"v: |\n  block\n  text\n",
    b"- a\n- b.c: 1\n",
    b"plain\n",
    b"",
    b"a: {b: 1}\na.b: 2\n",
    b"? [x]\n: 1\n",
    b"a: !!binary '***'\n",
]


def exact(data: bytes) -> object:
    root = compose_yaml(data)
    return None if root is None else _Decoder().decode(root)


def outcome(function, data: bytes) -> object:
    try:
        return ("ok", function(data))
    except (YamlError, ConfigError) as exc:
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("data", DOCUMENTS)
def test_fast_path_matches_the_exact_decoder(data: bytes) -> None:
    assert outcome(load_yaml, data) == outcome(exact, data)
    assert outcome(load_config, data) == outcome(lambda d: to_config(exact(d)), data)


def test_config_keeps_key_order_and_merges_dotted_keys() -> None:
    assert list(load_config(b"b: 1\na.x: 2\na.y: 3\n")) == ["b", "a"]
    assert load_config(b"a.x: 2\na.y: 3\n") == {"a": {"x": 2, "y": 3}}

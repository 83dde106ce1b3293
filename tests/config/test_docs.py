"""``docs/configuration.md`` stays in step with the flag table and the ``config.yml`` keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from package_registry.config.flags import FLAGS, Flag, markdown_table
from package_registry.config.goflags import parse_duration
from package_registry.config.settings import CONFIG_KEYS, ConfigKey

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
GENERATED = re.compile(r"<!-- flags:begin -->\n(.*)<!-- flags:end -->", re.DOTALL)


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_flag_table_is_the_generated_one(doc: str) -> None:
    match = GENERATED.search(doc)
    assert match is not None, "flags:begin / flags:end markers are missing"
    assert match.group(1) == markdown_table()


@pytest.mark.parametrize("flag", FLAGS, ids=lambda flag: flag.name)
def test_every_flag_is_documented_with_its_variable(doc: str, flag: Flag) -> None:
    assert f"| `-{flag.name}` |" in doc
    assert f"`{flag.env}`" in doc


@pytest.mark.parametrize("key", CONFIG_KEYS, ids=lambda key: key.key)
def test_every_config_key_is_documented_with_its_default(doc: str, key: ConfigKey) -> None:
    row = re.search(rf"^\| `{re.escape(key.key)}` \| [^|]+ \| `([^`]*)` \|(.*)$", doc, re.MULTILINE)
    assert row is not None
    default = {
        "duration": parse_duration,
        "int": int,
        "string": str,
        "paths": lambda text: tuple(yaml.safe_load(text)),
    }[key.kind](row.group(1))
    assert default == key.default
    if key.env is not None:
        assert f"`{key.env}`" in row.group(2)


def test_documentation_starts_with_a_working_example(doc: str) -> None:
    sections = re.findall(r"^## (.+)$", doc, re.MULTILINE)
    assert sections[0] == "Example"

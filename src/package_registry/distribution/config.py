"""The distribution tool's YAML file: where to ask, what to ask for, what to do with it.

The keys are the reference tool's (``address``, ``matrix``, ``queries``, ``packages``,
``actions``; unknown keys are ignored), plus ``public_key``: an armored OpenPGP key file
that signatures are checked against instead of Elastic's, for registries that serve
packages signed with another key.

Scalars are read as text, as a Go string field reads them, so ``spec.max: 3.10`` stays
``3.10`` instead of becoming the number 3.1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

DEFAULT_ADDRESS = "https://epr.elastic.co"
#: Query keys, in the order they are read; ``all`` and ``prerelease`` are booleans.
QUERY_KEYS = ("package", "all", "prerelease", "type", "kibana.version", "spec.min", "spec.max")
BOOLEAN_KEYS = frozenset({"all", "prerelease"})
ACTIONS = ("print", "download")


class DistributionConfigError(ValueError):
    """The file cannot be read or says something the tool cannot do."""


@dataclass(frozen=True, slots=True)
class Pinned:
    name: str
    version: str


@dataclass(frozen=True, slots=True)
class Action:
    """One item of ``actions``: ``print``, or ``download`` with its options."""

    name: str
    destination: str = ""
    address: str = ""


@dataclass(frozen=True, slots=True)
class DistributionConfig:
    address: str = DEFAULT_ADDRESS
    #: Query parameters, each a mapping of the query keys that are set (non-empty, true).
    matrix: list[dict[str, str]] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)
    packages: list[Pinned] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    public_key: str = ""


def parse_config(text: str) -> DistributionConfig:
    """``DistributionConfig`` from the YAML ``text``; ``DistributionConfigError`` if invalid."""
    try:
        document = yaml.load(text, Loader=yaml.BaseLoader)  # every scalar as text
    except yaml.YAMLError as err:
        raise DistributionConfigError(str(err)) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise DistributionConfigError("the configuration must be a mapping")
    return DistributionConfig(
        address=_text(document.get("address")) or DEFAULT_ADDRESS,
        matrix=[_query(item) for item in _list(document, "matrix")],
        queries=[_query(item) for item in _list(document, "queries")],
        packages=[_pinned(item) for item in _list(document, "packages")],
        actions=[_action(item) for item in _list(document, "actions")],
        public_key=_text(document.get("public_key")),
    )


def _list(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key)
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise DistributionConfigError(f"{key}: expected a list")
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DistributionConfigError(f"expected a text value, got {value!r}")
    return value


def _query(item: Any) -> dict[str, str]:
    if item in (None, ""):
        return {}
    if not isinstance(item, dict):
        raise DistributionConfigError(f"query: expected a mapping, got {item!r}")
    query: dict[str, str] = {}
    for key in QUERY_KEYS:
        value = _text(item.get(key))
        if key in BOOLEAN_KEYS:
            if _boolean(value):
                query[key] = "true"
        elif value:
            query[key] = value
    return query


def _boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("", "false", "no", "off", "n"):
        return False
    if lowered in ("true", "yes", "on", "y"):
        return True
    raise DistributionConfigError(f"expected true or false, got {value!r}")


def _pinned(item: Any) -> Pinned:
    if not isinstance(item, dict):
        raise DistributionConfigError(f"packages: expected name and version, got {item!r}")
    return Pinned(_text(item.get("name")), _text(item.get("version")))


def _action(item: Any) -> Action:
    if not isinstance(item, dict) or not item:
        raise DistributionConfigError(f"actions: expected a single-key mapping, got {item!r}")
    if len(item) > 1:
        raise DistributionConfigError("multiple entries found in action")
    ((name, options),) = item.items()
    if name not in ACTIONS:
        raise DistributionConfigError(f"unknown action {name}")
    if options in (None, ""):
        options = {}
    if not isinstance(options, dict):
        raise DistributionConfigError(f"{name}: expected a mapping of options")
    return Action(
        name,
        destination=_text(options.get("destination")),
        address=_text(options.get("address")),
    )

"""Package Storage v2 index documents for the storage tests, written here.

A bucket of the public package storage holds ``v2/metadata/<cursor>/search-index-all.json``
(every package's ``package_manifest``) and, from one revision to the next,
``search-index-delta.json`` (``added`` / ``updated`` / ``removed``). The documents below
have that shape: one rich package in two versions (icons, screenshots, conditions, owner,
assets, policy templates, data streams, as the indexing job writes them) and the deltas
that add, update, strip and remove versions of it.
"""

from __future__ import annotations

import copy
from typing import Any

NAME = "vaultwatch"
TITLE = "Vault Watch Audit Events"


def manifest(name: str, version: str, **extra: Any) -> dict[str, Any]:
    """A small valid ``package_manifest``."""
    return {
        "name": name,
        "title": f"{name} title",
        "version": version,
        "description": "A package.",
        "type": "integration",
        "download": f"/epr/{name}/{name}-{version}.zip",
        "path": f"/package/{name}/{version}",
        "format_version": "1.0.0",
        **extra,
    }


def index_of(*manifests: dict[str, Any]) -> dict[str, Any]:
    return {"packages": [{"package_manifest": m} for m in manifests]}


def delta_of(
    added: tuple[dict[str, Any], ...] = (),
    updated: tuple[dict[str, Any], ...] = (),
    removed: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    return {
        "added": [{"package_manifest": m} for m in added],
        "updated": [{"package_manifest": m} for m in updated],
        "removed": [{"name": name, "version": version} for name, version in removed],
    }


def _var(name: str, type_: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "title": title, "multi": False, **extra}


def _data_stream(stream: str, title: str) -> dict[str, Any]:
    return {
        "type": "logs",
        "dataset": f"{NAME}.{stream}",
        "title": title,
        "release": "beta",
        "ingest_pipeline": "default",
        "streams": [
            {
                "input": "httpjson",
                "vars": [
                    _var("page_size", "integer", "Page size", required=True, default=500),
                    _var("poll", "text", "Polling interval", required=True, default="30s"),
                    {**_var("tags", "text", "Tags", default=["forwarded", stream]), "multi": True},
                    _var("processors", "yaml", "Processors", required=False),
                ],
                "template_path": "httpjson.yml.hbs",
                "title": title,
                "description": f"{title} through the audit API",
                "enabled": True,
            }
        ],
        "package": NAME,
        "path": stream,
    }


def rich_manifest(version: str, kibana: str, **extra: Any) -> dict[str, Any]:
    """A ``package_manifest`` with every part the indexing job writes."""
    base = f"/package/{NAME}/{version}"
    streams = (("logins", "Login events"), ("secret_reads", "Secret read events"))
    return {
        "name": NAME,
        "title": TITLE,
        "version": version,
        "release": "beta",
        "description": "Audit events of a secrets vault, collected with Elastic Agent.",
        "type": "integration",
        "download": f"/epr/{NAME}/{NAME}-{version}.zip",
        "path": base,
        "icons": [
            {
                "src": "/img/logo.svg",
                "path": f"{base}/img/logo.svg",
                "title": "Vault Watch",
                "size": "64x64",
                "type": "image/svg+xml",
            }
        ],
        "conditions": {"kibana": {"version": kibana}},
        "owner": {"github": "example/vault-team"},
        "categories": ["security"],
        "format_version": "1.0.0",
        "readme": f"{base}/docs/README.md",
        "license": "basic",
        "screenshots": [
            {
                "src": "/img/overview.png",
                "path": f"{base}/img/overview.png",
                "title": "Overview",
                "size": "1280x720",
                "type": "image/png",
            }
        ],
        "assets": [
            f"{base}/manifest.yml",
            f"{base}/docs/README.md",
            f"{base}/img/logo.svg",
            f"{base}/img/overview.png",
            *(f"{base}/data_stream/{stream}/manifest.yml" for stream, _ in streams),
            f"{base}/kibana/dashboard/{NAME}-overview.json",
        ],
        "policy_templates": [
            {
                "name": NAME,
                "title": "Vault audit events",
                "description": "Collect audit events of the vault",
                "inputs": [
                    {
                        "type": "httpjson",
                        "vars": [
                            _var("url", "text", "API URL", required=True, show_user=True),
                            _var("token", "password", "API token", required=True),
                        ],
                        "title": "Collect audit events through the API",
                        "description": "Login and secret read events",
                    }
                ],
                "multiple": True,
            }
        ],
        "data_streams": [_data_stream(stream, title) for stream, title in streams],
        **extra,
    }


_SMALL = index_of(
    rich_manifest("0.1.1", "^7.16.0 || ^8.0.0"),
    rich_manifest("0.2.0", "^8.0.0"),
)


def small_index() -> dict[str, Any]:
    """Two versions of one package: ``0.1.1`` and ``0.2.0`` (with ``categories``)."""
    return copy.deepcopy(_SMALL)


def deprecated_index() -> dict[str, Any]:
    """Only ``0.2.0``, deprecated since 1.0.0 without a description."""
    stripped = manifest(NAME, "0.2.0", title=TITLE, categories=["security"])
    return index_of({**stripped, "deprecated": {"since": "1.0.0"}})


def delta_add() -> dict[str, Any]:
    """Adds ``0.3.0``."""
    added = manifest(NAME, "0.3.0", title=TITLE, conditions={"kibana": {"version": "^8.0.0"}})
    return delta_of(added=(added,))


def delta_update() -> dict[str, Any]:
    """Replaces ``0.2.0`` by a copy whose title ends in ``UPDATED``."""
    return delta_of(updated=(rich_manifest("0.2.0", "^8.0.0", title=f"{TITLE} UPDATED"),))


def delta_update_field_removal() -> dict[str, Any]:
    """Replaces ``0.2.0`` by a manifest without ``categories``."""
    return delta_of(updated=(manifest(NAME, "0.2.0", title=TITLE, group="observability"),))


def delta_remove() -> dict[str, Any]:
    """Removes ``0.1.1``."""
    return delta_of(removed=((NAME, "0.1.1"),))

"""Every TestEndpoints /search and /categories case of the conformance kit, in process.

The catalog is the ``combined`` profile's: zips of the three fixture paths, then their
folders. Answers must equal the reference's golden files, as JSON and byte for byte after
trimming white space at the ends (what the Go tests compare).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from package_registry.catalog.build import build_catalog
from package_registry.catalog.snapshot import Catalog
from package_registry.queries.categories import categories
from package_registry.queries.params import (
    InvalidQuery,
    parse_categories_query,
    parse_search_query,
)
from package_registry.queries.search import QueryFailed, search
from package_registry.sources.folders import load_folders
from package_registry.sources.zips import load_zips
from tests_kit.kit import DATA, KIT

CASES_FILE = KIT / "cases.json"
PROFILES = {"combined": True, "combined-disallow-unknown": False}  # → allow unknown parameters


def _cases() -> list[Any]:
    cases = json.loads(CASES_FILE.read_text())["cases"]
    return [
        pytest.param(case, id=f"{case['profile']}:{case['path']}")
        for case in cases
        if case["group"] == "TestEndpoints"
        and case["path"].startswith(("/search", "/categories"))
        and case["profile"] in PROFILES
    ]


@cache
def _catalog() -> Catalog:
    paths = [str(DATA / p) for p in ("local-storage", "second_package_path", "package")]
    reports = [
        load(paths, validate=True, require_signatures=False, workers=2)
        for load in (load_zips, load_folders)
    ]
    for report in reports:
        assert not report.rejects, report.rejects
    return build_catalog([list(report.packages) for report in reports])


def _answer(catalog: Catalog, path: str, allow_unknown: bool) -> tuple[int, bytes]:
    route, _, raw_query = path.partition("?")
    try:
        if route == "/search":
            return 200, search(catalog, parse_search_query(raw_query, allow_unknown))
        return 200, categories(catalog, parse_categories_query(raw_query, allow_unknown))
    except InvalidQuery as exc:
        return 400, exc.body()
    except QueryFailed as exc:
        prefix = "fetching package failed: " if route == "/search" else ""
        return 404, (prefix + exc.message).encode()


@pytest.mark.parametrize("case", _cases())
def test_endpoint_answer_matches_golden_file(case: dict[str, Any]):
    catalog = _catalog()
    status, body = _answer(catalog, case["path"], PROFILES[case["profile"]])
    expect = case["expect"]
    golden = (DATA / "generated" / expect["body"]["file"]).read_bytes()
    assert status == expect["status"]
    if expect["body"]["mode"] == "json":
        assert json.loads(body) == json.loads(golden)
    assert body.strip() == golden.strip()

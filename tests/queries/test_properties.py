"""Invariants of /search and /categories over random catalogs and queries (hypothesis)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from package_registry.packages.documents import category_closure
from package_registry.packages.model import Package
from package_registry.packages.versions import Version
from package_registry.queries.categories import categories
from package_registry.queries.params import (
    SearchQuery,
    parse_categories_query,
    parse_search_query,
)
from package_registry.queries.search import search
from tests.queries.factory import catalog_of, make_package

NAMES = ["alpha", "beta", "gamma", "delta"]
KIBANA = [None, "^7.0.0", "^8.0.0", ">=7.10.0", "^7.16.0 || ^8.0.0", "~8.1.0"]
CATEGORY_IDS = ["web", "custom", "security", "observability", "aws", "crm", "monitoring"]


@st.composite
def packages(draw: st.DrawFn, source: int) -> Package:
    version = "{}.{}.{}".format(*draw(st.tuples(*[st.integers(0, 2)] * 3)))
    if draw(st.booleans()) and draw(st.booleans()):
        version += "-rc1"
    templates = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["t1", "t2", "t3"]),
                st.none() | st.lists(st.sampled_from([*CATEGORY_IDS, "compute"]), max_size=2),
            ),
            max_size=3,
        )
    )
    return make_package(
        draw(st.sampled_from(NAMES)),
        version,
        type=draw(st.sampled_from(["integration", "input"])),
        release="experimental" if draw(st.integers(0, 5)) == 0 else None,
        categories=draw(st.lists(st.sampled_from(CATEGORY_IDS), max_size=2, unique=True)),
        templates=templates,
        kibana=draw(st.sampled_from(KIBANA)),
        capabilities=draw(st.none() | st.lists(st.sampled_from(["a", "b"]), unique=True)),
        description=f"from source {source}",
    )


@st.composite
def catalogs(draw: st.DrawFn, max_sources: int = 3) -> list[list[Package]]:
    sources = []
    for source in range(draw(st.integers(1, max_sources))):
        seen: set[tuple[str, str]] = set()
        items = []
        for package in draw(st.lists(packages(source), max_size=12)):
            if package.key not in seen:
                seen.add(package.key)
                items.append(package)
        sources.append(items)
    return sources


QUERY_PARAMS: dict[str, Any] = {
    "kibana.version": st.sampled_from(["7.5.0", "7.17.0", "8.1.2", "8.0.0-SNAPSHOT"]),
    "prerelease": st.sampled_from(["true", "false"]),
    "type": st.sampled_from(["integration", "input"]),
    "capabilities": st.sampled_from(["a", "b", "a,b", "none"]),
    "package": st.sampled_from(NAMES),
}


@st.composite
def query_pairs(draw: st.DrawFn) -> list[tuple[str, str]]:
    keys = draw(st.lists(st.sampled_from(sorted(QUERY_PARAMS)), unique=True))
    return [(k, draw(QUERY_PARAMS[k])) for k in keys]


def _raw(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in pairs)


def _passes(p: Package, q: SearchQuery) -> bool:
    """Filters 1-9 of the standard pipeline, written independently of the engine."""
    if not q.prerelease and (p.release == "experimental" or p.semver.prerelease):
        return False
    kibana = q.kibana_version
    if kibana is not None and p.kibana is not None and not p.kibana.check(kibana):
        return False
    if q.package is not None and p.name != q.package:
        return False
    if q.type is not None and p.type != q.type:
        return False
    if q.capabilities is not None and p.capabilities is not None:
        return set(p.capabilities) <= q.capabilities
    return True


def _items(body: bytes) -> list[dict[str, Any]]:
    return json.loads(body)


@settings(max_examples=100, deadline=None)
@given(catalogs(), query_pairs())
def test_each_result_is_newest_passing_version_of_its_package(
    sources: list[list[Package]], pairs: list[tuple[str, str]]
):
    query = parse_search_query(_raw(pairs))
    items = _items(search(catalog_of(*sources), query))
    best: dict[str, tuple[Version, int]] = {}
    for index, source in enumerate(sources):
        for p in source:
            if _passes(p, query):
                current = best.get(p.name)
                if current is None or p.semver > current[0]:
                    best[p.name] = (p.semver, index)
    assert [i["name"] for i in items] == sorted(best)
    for item in items:
        version, index = best[item["name"]]
        assert Version.parse_strict(item["version"]) == version
        assert item["description"] == f"from source {index}"


@settings(max_examples=100, deadline=None)
@given(catalogs(max_sources=1), query_pairs(), st.sampled_from([*CATEGORY_IDS, "compute"]))
def test_category_keeps_chosen_versions_that_carry_it(
    sources: list[list[Package]], pairs: list[tuple[str, str]], category: str
):
    catalog = catalog_of(*sources)
    without = _items(search(catalog, parse_search_query(_raw(pairs))))
    with_category = _items(
        search(catalog, parse_search_query(_raw([*pairs, ("category", category)])))
    )
    chosen = {(p.name, p.version): p for p in sources[0]}
    expected = []
    for item in without:
        p = chosen[(item["name"], item["version"])]
        in_templates = any(
            category in category_closure(t.categories or ()) for t in p.policy_templates
        )
        if category in category_closure(p.categories) or in_templates:
            expected.append((item["name"], item["version"]))
    assert [(i["name"], i["version"]) for i in with_category] == expected


@settings(max_examples=100, deadline=None)
@given(catalogs(), query_pairs())
def test_category_counts_equal_search_results_listing_the_category(
    sources: list[list[Package]], pairs: list[tuple[str, str]]
):
    catalog = catalog_of(*sources)
    shared = [(k, v) for k, v in pairs if k not in ("type", "package")]
    found = _items(search(catalog, parse_search_query(_raw(shared))))
    expected = Counter(c for item in found for c in item.get("categories", []))
    counted = _items(categories(catalog, parse_categories_query(_raw(shared))))
    assert {c["id"]: c["count"] for c in counted} == dict(expected)


@settings(max_examples=100, deadline=None)
@given(catalogs(), query_pairs(), st.randoms(use_true_random=False), st.booleans())
def test_permuted_parameters_give_same_key_and_bytes(
    sources: list[list[Package]], pairs: list[tuple[str, str]], rnd: Any, all_versions: bool
):
    catalog = catalog_of(*sources)
    pairs = [*pairs, ("all", "true" if all_versions else "false")]
    shuffled = list(pairs)
    rnd.shuffle(shuffled)
    shuffled.append(("unknown", "x"))
    a, b = parse_search_query(_raw(pairs)), parse_search_query(_raw(shuffled))
    assert a.cache_key() == b.cache_key()
    assert search(catalog, a) == search(catalog, b)

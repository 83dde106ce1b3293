"""Proxy-mode merging of local and upstream answers, and the expiring answer cache."""

from __future__ import annotations

import json

from package_registry.packages.jsonmodel import package_from_json
from package_registry.queries.categories import category_counts, render_categories
from package_registry.queries.expiring import ExpiringAnswers
from package_registry.queries.lru import ENTRY_OVERHEAD, approx_size
from package_registry.queries.merge import merge_categories, merge_search
from package_registry.queries.params import parse_categories_query, parse_search_query
from package_registry.queries.search import search, search_entries
from tests.queries.factory import catalog_of, keys, make_package

LOCAL = catalog_of(
    [
        make_package("alpha", "1.0.0", title="Local alpha", categories=["web"]),
        make_package("alpha", "2.0.0-beta1"),
        make_package("beta", "0.1.0", categories=["custom"]),
    ]
)


def remote(name: str, version: str, **extra: object):  # type: ignore[no-untyped-def]
    return package_from_json({"name": name, "version": version, "title": f"Remote {name}", **extra})


def merged(raw: str, *packages) -> bytes:  # type: ignore[no-untyped-def]
    query = parse_search_query(raw)
    return merge_search(query, search_entries(LOCAL, query), packages)


def test_without_upstream_packages_the_answer_is_the_local_one():
    for raw in ("", "all=true", "prerelease=true", "category=web"):
        assert merged(raw) == search(LOCAL, parse_search_query(raw)), raw


def test_local_wins_on_the_same_name_and_version():
    body = merged("all=true", remote("alpha", "1.0.0"), remote("gamma", "1.0.0"))
    items = json.loads(body)
    assert keys(body) == ["alpha@1.0.0", "beta@0.1.0", "gamma@1.0.0"]
    assert items[0]["title"] == "Local alpha"


def test_latest_per_name_uses_plain_semver_order():
    upstream = [remote("alpha", "1.5.0"), remote("beta", "0.0.9"), remote("beta", "0.2.0-rc1")]
    assert keys(merged("", *upstream)) == ["alpha@1.5.0", "beta@0.2.0-rc1"]
    assert keys(merged("all=true", *upstream)) == [
        "alpha@1.0.0",
        "alpha@1.5.0",
        "beta@0.0.9",
        "beta@0.1.0",
        "beta@0.2.0-rc1",
    ]


def test_upstream_internal_packages_follow_the_local_rule():
    upstream = [remote("gamma", "1.0.0", internal=True), remote("delta", "1.0.0")]
    assert keys(merged("all=true", *upstream)) == ["alpha@1.0.0", "beta@0.1.0", "delta@1.0.0"]
    assert keys(merged("all=true&internal=true", *upstream)) == [
        "alpha@1.0.0",
        "beta@0.1.0",
        "delta@1.0.0",
        "gamma@1.0.0",
    ]
    # Only a JSON true marks a package internal, as only a YAML true does in a manifest.
    assert remote("gamma", "1.0.0", internal="true").internal is False


def test_upstream_duplicates_are_kept_once():
    body = merged("all=true", remote("gamma", "1.0.0"), remote("gamma", "1.0.0", title="Again"))
    assert keys(body) == ["alpha@1.0.0", "beta@0.1.0", "gamma@1.0.0"]
    assert json.loads(body)[2]["title"] == "Remote gamma"


def test_empty_answer_stays_compact():
    assert merged("package=nothing") == b"[]"


def test_categories_add_counts_and_keep_upstream_only_fields():
    counts = category_counts(LOCAL, parse_categories_query(""))
    upstream = [
        ("web", "Web Server", 4, "observability", "Observability"),
        ("custom_logs", "Custom Logs", 3, "custom", "Custom"),
        ("compute", "Compute", 2, "", ""),
    ]
    items = json.loads(render_categories(merge_categories(counts, upstream)))
    assert items == [
        {"id": "compute", "title": "Compute", "count": 2},
        {"id": "custom", "title": "Custom", "count": 1},
        {
            "id": "custom_logs",
            "title": "Custom Logs",
            "count": 3,
            "parent_id": "custom",
            "parent_title": "Custom",
        },
        {
            "id": "web",
            "title": "Web Server",
            "count": 5,
            "parent_id": "observability",
            "parent_title": "Observability",
        },
    ]


def test_expiring_answers_expire_and_stay_bounded_by_bytes():
    now = [100.0]
    one = len(b"x" * 1000) + approx_size("a") + ENTRY_OVERHEAD
    cache = ExpiringAnswers(2.0, max_bytes=2 * one, clock=lambda: now[0])
    first = cache.put("a", b"[]")
    assert cache.get("a") is first
    now[0] += 2.0
    assert cache.get("a") is None
    cache.put("a", b"x" * 1000)
    cache.put("b", b"x" * 1000)
    cache.put("c", b"x" * 1000)
    assert (cache.get("a"), len(cache)) == (None, 2)
    assert cache.total <= 2 * one
    assert cache.put("big", b"x" * 3 * one).body  # served, not kept
    assert cache.get("big") is None


def test_expiring_answers_charge_the_gzip_copy():
    cache = ExpiringAnswers(60.0, max_bytes=1 << 20)
    answer = cache.put("a", b'{"a": 1}\n' * 500)
    before = cache.total
    packed = answer.gzip()
    assert cache.total == before + len(packed)


def test_zero_time_to_live_keeps_nothing():
    cache = ExpiringAnswers(0)
    answer = cache.put("a", b"[]")
    assert answer.body == b"[]" and answer.etag
    assert cache.get("a") is None

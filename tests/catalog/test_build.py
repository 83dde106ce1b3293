"""Building catalogs: precedence, look-ups, ordering, indexes and pre-rendered items."""

from __future__ import annotations

import json

from package_registry.catalog.build import build_catalog
from package_registry.packages.documents import category_closure
from package_registry.packages.render import render_json
from tests.queries.factory import catalog_of, make_package


def test_lookup_prefers_earlier_source_and_needs_exact_version_string():
    zipped = make_package("a", "1.0.0", description="zip")
    folder = make_package("a", "1.0.0", description="folder")
    catalog = catalog_of([zipped], [folder, make_package("a", "2.0.0-rc1")])
    assert catalog.lookup("a", "1.0.0") is zipped
    assert catalog.lookup("a", "2.0.0-rc1") is not None
    assert catalog.lookup("a", "1.0") is None
    assert catalog.lookup("b", "1.0.0") is None
    assert len(catalog) == 2


def test_duplicate_inside_one_source_keeps_first():
    first = make_package("a", "1.0.0", description="first")
    catalog = catalog_of([first, make_package("a", "1.0.0", description="second")])
    assert catalog.lookup("a", "1.0.0") is first
    assert len(catalog.newest(0, "a")) == 1


def test_versions_are_kept_newest_first_per_source():
    catalog = catalog_of(
        [make_package("a", v) for v in ("1.0.0", "1.10.0", "1.9.0", "1.10.0-rc1", "0.1.0")]
    )
    assert [e.package.version for e in catalog.newest(0, "a")] == [
        "1.10.0",
        "1.10.0-rc1",
        "1.9.0",
        "1.0.0",
        "0.1.0",
    ]


def test_firsts_keep_only_newest_of_each_signature():
    catalog = catalog_of(
        [
            make_package("a", "1.0.0", kibana="^7.0.0"),
            make_package("a", "1.1.0", kibana="^7.0.0"),
            make_package("a", "2.0.0", kibana="^8.0.0"),
        ]
    )
    assert [e.package.version for e in catalog.firsts(0, "a")] == ["2.0.0", "1.1.0"]


def test_groups_merge_sources_by_version_string_oldest_first():
    catalog = catalog_of(
        [make_package("a", "2.0.0"), make_package("a", "1.0.0")],
        [make_package("a", "1.0.0"), make_package("a", "1.5.0")],
    )
    groups = catalog.groups("a")
    assert [[(e.package.version, e.source) for e in g] for g in groups] == [
        [("1.0.0", 0), ("1.0.0", 1)],
        [("1.5.0", 1)],
        [("2.0.0", 0)],
    ]


def test_fragments_join_into_the_go_rendering_of_the_list():
    packages = [
        make_package("a", "1.0.0", categories=["web"], templates=[("t", ["aws"])]),
        make_package("b", "1.0.0", kibana="^8.0.0", fields=["x"]),
    ]
    catalog = build_catalog([packages])
    body = b"[\n" + b",\n".join(catalog.newest(0, n)[0].fragment() for n in "ab") + b"\n]\n"
    assert body == render_json([p.summary for p in packages])
    assert json.loads(body)[0]["name"] == "a"


def test_indexes_by_category_type_and_capability():
    catalog = catalog_of(
        [
            make_package("a", "1.0.0", categories=["web"], type="input"),
            make_package("b", "1.0.0", templates=[("t", ["datastore"])], capabilities=["x"]),
        ]
    )
    assert catalog.by_category["web"] == {"a"}
    assert catalog.by_category["observability"] == {"a"}
    assert catalog.by_category["datastore"] == {"b"}
    assert catalog.by_type == {"input": {"a"}, "integration": {"b"}}
    assert catalog.by_capability == {"x": {"b"}}


def test_category_closure_adds_parents_of_subcategories():
    assert category_closure(["web", "aws", "compute"]) == {"web", "observability", "aws", "compute"}


def test_each_catalog_has_its_own_generation():
    assert catalog_of([]).generation != catalog_of([]).generation
    assert len(catalog_of([])) == 0

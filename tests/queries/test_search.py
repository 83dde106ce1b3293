"""/search over hand-made catalogs: each filter, latest selection, pipelines and merge."""

from __future__ import annotations

import json

import pytest

from package_registry.packages.render import render_json
from package_registry.queries.params import parse_search_query
from package_registry.queries.search import QueryFailed, search
from tests.queries.factory import catalog_of, keys, make_package


def run(catalog, raw: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    return keys(search(catalog, parse_search_query(raw)))


# --- filters and latest selection within one source ------------------------------------

BASIC = catalog_of(
    [
        make_package("alpha", "1.0.0", kibana="^7.0.0", categories=["web"]),
        make_package("alpha", "1.1.0", kibana="^8.0.0", categories=["custom"]),
        make_package("alpha", "1.2.0-rc1", kibana="^8.0.0"),
        make_package("beta", "0.3.0", type="input", agent="^9.2.0"),
        make_package("beta", "0.2.0", type="input"),
        make_package("gamma", "2.0.0", release="experimental", capabilities=["security"]),
        make_package("gamma", "1.9.0", capabilities=["observability", "security"]),
        make_package("delta", "1.0.0", fields=["process.pid"], datasets=["delta.a", "delta.b"]),
        make_package("epsilon", "1.0.0", format_version="2.10.5", type="content"),
        make_package("epsilon", "0.9.0", format_version="1.0.0", type="content"),
    ]
)

FILTER_CASES = [
    pytest.param(
        "",
        ["alpha@1.1.0", "beta@0.3.0", "delta@1.0.0", "epsilon@1.0.0", "gamma@1.9.0"],
        id="default-hides-prerelease-and-experimental-not-0x",
    ),
    pytest.param(
        "prerelease=true",
        ["alpha@1.2.0-rc1", "beta@0.3.0", "delta@1.0.0", "epsilon@1.0.0", "gamma@2.0.0"],
        id="prerelease-shows-both",
    ),
    pytest.param(
        "kibana.version=7.5.0&package=alpha",
        ["alpha@1.0.0"],
        id="kibana-filter-before-latest-selection",
    ),
    pytest.param("kibana.version=6.0.0&package=alpha", [], id="kibana-rejects-all"),
    pytest.param(
        "kibana.version=8.1.0-SNAPSHOT",
        ["beta@0.3.0", "delta@1.0.0", "epsilon@1.0.0", "gamma@1.9.0"],
        id="prerelease-kibana-only-unconstrained",
    ),
    pytest.param("agent.version=9.1.0&package=beta", ["beta@0.2.0"], id="agent-filter"),
    pytest.param("type=input", ["beta@0.3.0"], id="type"),
    pytest.param("type=nothing", [], id="unknown-type"),
    pytest.param("package=nothing", [], id="unknown-package"),
    pytest.param(
        "capabilities=security&package=gamma&prerelease=true",
        ["gamma@2.0.0"],
        id="capabilities-subset",
    ),
    pytest.param(
        "capabilities=observability&package=gamma&prerelease=true",
        [],
        id="capabilities-missing-one",
    ),
    pytest.param(
        "capabilities=none",
        ["alpha@1.1.0", "beta@0.3.0", "delta@1.0.0", "epsilon@1.0.0"],
        id="capabilities-none-keeps-undeclared",
    ),
    pytest.param("discovery=fields:process.pid,other", ["delta@1.0.0"], id="fields-subset"),
    pytest.param("discovery=fields:other", [], id="fields-not-listed"),
    pytest.param("discovery=datasets:delta.b,zzz", ["delta@1.0.0"], id="datasets-intersect"),
    pytest.param(
        "discovery=datasets:delta.b&discovery=fields:process.path", [], id="discovery-and"
    ),
    pytest.param("spec.max=2.10&package=epsilon", ["epsilon@1.0.0"], id="spec-max-ignores-patch"),
    pytest.param("spec.max=2.9&package=epsilon", ["epsilon@0.9.0"], id="spec-max-older-version"),
    pytest.param("spec.min=2.0&spec.max=2.9&package=epsilon", [], id="spec-range-empty"),
    pytest.param("package=alpha&all=true", ["alpha@1.0.0", "alpha@1.1.0"], id="all-versions"),
    pytest.param(
        "package=alpha&all=true&prerelease=true",
        ["alpha@1.0.0", "alpha@1.1.0", "alpha@1.2.0-rc1"],
        id="all-with-prerelease",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), FILTER_CASES)
def test_search_filter(raw: str, expected: list[str]):
    assert run(BASIC, raw) == expected


def test_search_empty_answer_is_two_bytes_without_newline():
    assert search(BASIC, parse_search_query("package=nothing")) == b"[]"


def test_search_body_is_the_go_rendering_of_the_items():
    body = search(BASIC, parse_search_query("all=true&prerelease=true"))
    items = json.loads(body)
    assert body == render_json(items)
    assert len(items) == 10


def test_search_orders_by_name_then_semver():
    catalog = catalog_of(
        [
            make_package("datasources", "1.0.0"),
            make_package("dataset_is_prefix", "1.10.0"),
            make_package("dataset_is_prefix", "1.9.0"),
            make_package("dataset_is_prefix", "1.9.0-rc.1"),
        ]
    )
    assert run(catalog, "all=true&prerelease=true") == [
        "dataset_is_prefix@1.9.0-rc.1",
        "dataset_is_prefix@1.9.0",
        "dataset_is_prefix@1.10.0",
        "datasources@1.0.0",
    ]


def test_search_hides_internal_packages_unless_asked():
    catalog = catalog_of([make_package("a", "1.0.0"), make_package("b", "1.0.0", internal=True)])
    assert run(catalog) == ["a@1.0.0"]
    assert run(catalog, "internal=true") == ["a@1.0.0", "b@1.0.0"]


def test_search_latest_uses_newest_even_when_listed_later():
    catalog = catalog_of(
        [make_package("a", "1.0.0"), make_package("a", "2.0.0"), make_package("a", "1.5.0")]
    )
    assert run(catalog) == ["a@2.0.0"]


# --- spec versions that are not set ----------------------------------------------------


def test_search_spec_bounds_fail_on_package_without_spec_version():
    catalog = catalog_of(
        [make_package("a", "1.0.0"), make_package("b", "1.0.0", format_version=None)]
    )
    with pytest.raises(QueryFailed) as info:
        search(catalog, parse_search_query("spec.max=3.1"))
    assert str(info.value) == (
        "can't compare spec version for b (<nil>-3.1.0): package spec version is not set"
    )


def test_search_spec_error_needs_the_package_to_pass_the_other_filters():
    catalog = catalog_of(
        [make_package("a", "1.0.0"), make_package("b", "1.0.0", format_version=None)]
    )
    assert run(catalog, "spec.min=1.0&package=a") == ["a@1.0.0"]
    assert run(catalog, "spec.min=1.0&type=input") == []
    assert run(catalog, "spec.min=1.0&experimental=true") == ["a@1.0.0", "b@1.0.0"]


# --- legacy pipeline -------------------------------------------------------------------

LEGACY = catalog_of(
    [
        make_package("a", "1.0.0", kibana="^7.0.0"),
        make_package("a", "2.0.0-rc1"),
        make_package("b", "0.1.0"),
        make_package("b", "0.2.0-beta1"),
        make_package("c", "1.0.0", release="experimental", agent="^9.0.0", capabilities=["x"]),
        make_package("d", "0.5.0"),
        make_package("d", "1.0.0"),
        make_package("d", "1.1.0-rc1"),
    ]
)

LEGACY_CASES = [
    pytest.param(
        "experimental=true",
        ["a@1.0.0", "b@0.1.0", "c@1.0.0", "d@1.0.0"],
        id="release-beats-prerelease-and-experimental-listed",
    ),
    pytest.param(
        "experimental=true&kibana.version=8.0.0",
        ["a@2.0.0-rc1", "b@0.1.0", "c@1.0.0", "d@1.0.0"],
        id="prerelease-when-no-release-passes",
    ),
    pytest.param(
        "experimental=true&agent.version=1.0.0&capabilities=none&discovery=fields:q"
        "&spec.max=1.0&prerelease=false",
        ["a@1.0.0", "b@0.1.0", "c@1.0.0", "d@1.0.0"],
        id="ignores-other-filters",
    ),
    pytest.param(
        "experimental=true&all=true",
        ["a@1.0.0", "b@0.1.0", "b@0.2.0-beta1", "c@1.0.0", "d@1.0.0"],
        id="all-drops-prerelease-and-0x-when-stable-exists",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), LEGACY_CASES)
def test_search_legacy_pipeline(raw: str, expected: list[str]):
    assert run(LEGACY, raw) == expected


# --- categories ------------------------------------------------------------------------

CATEGORIZED = catalog_of(
    [
        make_package("web_old", "1.0.0", categories=["web"]),
        make_package("web_old", "2.0.0", categories=["custom"]),
        make_package("srv", "1.0.0", categories=["web", "security"]),
        make_package(
            "db",
            "1.0.0",
            categories=["crm", "azure"],
            templates=[("rds", ["datastore"]), ("ec2", ["compute"]), ("x", None)],
        ),
        make_package("mq", "1.0.0", categories=["custom"], templates=[("q", ["message_queue"])]),
    ]
)

CATEGORY_CASES = [
    pytest.param("category=web", ["srv@1.0.0"], id="after-latest-no-fallback"),
    pytest.param("category=web&all=true", ["srv@1.0.0", "web_old@1.0.0"], id="all-versions"),
    pytest.param(
        "category=observability", ["mq@1.0.0", "srv@1.0.0"], id="subcategories-match-parent"
    ),
    pytest.param("category=datastore", ["db@1.0.0"], id="through-policy-template"),
    pytest.param("category=azure", ["db@1.0.0"], id="direct"),
    pytest.param("category=nothing", [], id="unknown"),
]


@pytest.mark.parametrize(("raw", "expected"), CATEGORY_CASES)
def test_search_category_filter(raw: str, expected: list[str]):
    assert run(CATEGORIZED, raw) == expected


def _templates(raw: str) -> dict[str, list[str] | None]:
    items = json.loads(search(CATEGORIZED, parse_search_query(raw)))
    return {
        i["name"]: [t["name"] for t in i["policy_templates"]] if "policy_templates" in i else None
        for i in items
    }


def test_search_category_through_template_keeps_only_matching_templates():
    assert _templates("category=datastore") == {"db": ["rds"]}


def test_search_category_direct_match_keeps_every_template():
    assert _templates("category=crm") == {"db": ["rds", "ec2", "x"]}


def test_search_category_through_template_subcategory_drops_all_templates():
    assert _templates("category=observability") == {"mq": None, "srv": None}


def test_search_pruned_answer_is_valid_go_rendering():
    body = search(CATEGORIZED, parse_search_query("category=datastore"))
    assert body == render_json(json.loads(body))


# --- several sources -------------------------------------------------------------------


def test_search_same_version_in_two_sources_first_source_wins():
    first = make_package("a", "1.0.0", description="from zip")
    second = make_package("a", "1.0.0", description="from folder")
    catalog = catalog_of([first], [second])
    for raw in ("", "all=true", "experimental=true", "experimental=true&all=true"):
        items = json.loads(search(catalog, parse_search_query(raw)))
        assert [i["description"] for i in items] == ["from zip"], raw


def test_search_newest_across_sources_wins():
    catalog = catalog_of([make_package("a", "1.0.0")], [make_package("a", "1.2.0")])
    assert run(catalog) == ["a@1.2.0"]
    assert run(catalog, "all=true") == ["a@1.0.0", "a@1.2.0"]


def test_search_legacy_merge_is_plain_semver_so_prerelease_of_other_source_wins():
    catalog = catalog_of([make_package("a", "1.0.0")], [make_package("a", "1.1.0-rc1")])
    assert run(catalog, "experimental=true") == ["a@1.1.0-rc1"]
    single = catalog_of([make_package("a", "1.0.0"), make_package("a", "1.1.0-rc1")])
    assert run(single, "experimental=true") == ["a@1.0.0"]


def test_search_legacy_all_drop_rule_is_per_source():
    catalog = catalog_of([make_package("a", "1.0.0")], [make_package("a", "0.9.0")])
    assert run(catalog, "experimental=true&all=true") == ["a@0.9.0", "a@1.0.0"]


def test_search_category_filter_applies_per_source_before_merge():
    catalog = catalog_of(
        [make_package("a", "2.0.0", categories=["custom"])],
        [make_package("a", "1.0.0", categories=["web"])],
    )
    assert run(catalog, "category=web") == ["a@1.0.0"]
    assert run(catalog) == ["a@2.0.0"]


def test_search_filtered_out_copy_lets_later_source_copy_through():
    catalog = catalog_of(
        [make_package("a", "1.0.0", categories=["custom"])],
        [make_package("a", "1.0.0", categories=["web"])],
    )
    assert run(catalog, "category=web&all=true") == ["a@1.0.0"]
    assert run(catalog, "category=web") == ["a@1.0.0"]


def test_search_spec_error_reports_first_source_first():
    catalog = catalog_of(
        [make_package("z", "1.0.0", format_version=None)],
        [make_package("a", "1.0.0", format_version=None)],
    )
    with pytest.raises(QueryFailed, match="for z "):
        search(catalog, parse_search_query("spec.min=1.0&spec.max=2.0"))

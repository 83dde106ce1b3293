"""/categories: counting with and without policy templates, titles, parents, filters."""

from __future__ import annotations

import json

import pytest

from package_registry.queries.categories import (
    CategoryCount,
    categories,
    render_categories,
)
from package_registry.queries.params import parse_categories_query
from package_registry.queries.search import QueryFailed
from tests.queries.factory import catalog_of, make_package


def counts(catalog, raw: str = "") -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {
        c["id"]: c["count"] for c in json.loads(categories(catalog, parse_categories_query(raw)))
    }


# The AWS-like case of the reference's comment: a package in "crm, azure" with templates.
AWS = make_package(
    "aws",
    "1.0.0",
    categories=["crm", "azure"],
    templates=[("rds", ["datastore"]), ("dynamo", ["datastore", "compute"]), ("ec2", ["compute"])],
)
PLAIN = make_package("plain", "1.0.0", categories=["custom"], templates=[("only", None)])
EMPTY_LIST = make_package("empty_list", "1.0.0", categories=["custom"], templates=[("t", [])])
TWO_BARE = make_package(
    "two_bare", "1.0.0", categories=["web"], templates=[("a", None), ("b", None)]
)
SUB = make_package("sub", "1.0.0", categories=["web"], templates=[("t", ["observability"])])


@pytest.mark.parametrize(
    ("package", "plain", "with_templates"),
    [
        pytest.param(
            AWS,
            {"azure": 1, "crm": 1},
            {"azure": 4, "crm": 4, "datastore": 3, "compute": 3},
            id="package-once-per-extra-category-plus-each-template",
        ),
        pytest.param(PLAIN, {"custom": 1}, {"custom": 1}, id="lone-template-without-categories"),
        pytest.param(EMPTY_LIST, {"custom": 1}, {"custom": 2}, id="explicit-empty-list-counts"),
        pytest.param(TWO_BARE, {"web": 1}, {"web": 3}, id="two-templates-without-categories"),
        pytest.param(
            SUB,
            {"web": 1},
            {"web": 2, "observability": 1},
            id="parent-of-own-subcategory-is-not-extra",
        ),
    ],
)
def test_categories_counting(package, plain: dict[str, int], with_templates: dict[str, int]):  # type: ignore[no-untyped-def]
    catalog = catalog_of([package])
    assert counts(catalog) == plain
    assert counts(catalog, "include_policy_templates=true") == with_templates


def test_categories_counts_latest_version_only():
    catalog = catalog_of(
        [
            make_package("a", "1.0.0", categories=["web"]),
            make_package("a", "2.0.0", categories=["custom"]),
            make_package("a", "3.0.0-rc1", categories=["security"]),
        ]
    )
    assert counts(catalog) == {"custom": 1}
    assert counts(catalog, "prerelease=true") == {"security": 1}
    assert counts(catalog, "experimental=true") == {"custom": 1}


def test_categories_output_has_titles_parents_and_unknown_ids_as_titles():
    catalog = catalog_of(
        [make_package("a", "1.0.0", categories=["web", "aws"], templates=[("t", ["compute"])])]
    )
    body = categories(catalog, parse_categories_query("include_policy_templates=1"))
    assert json.loads(body) == [
        {"id": "aws", "title": "AWS", "count": 2},
        {"id": "compute", "title": "compute", "count": 2},
        {
            "id": "web",
            "title": "Web Server",
            "count": 2,
            "parent_id": "observability",
            "parent_title": "Observability",
        },
    ]
    assert body.endswith(b"}\n]\n")


def test_categories_empty_answer_has_a_newline():
    assert categories(catalog_of([]), parse_categories_query("")) == b"[]\n"


def test_categories_filters_apply_before_counting():
    catalog = catalog_of(
        [
            make_package("a", "1.0.0", categories=["web"], kibana="^7.0.0"),
            make_package("b", "1.0.0", categories=["web"], capabilities=["security"]),
            make_package("c", "1.0.0", categories=["custom"], internal=True),
        ]
    )
    assert counts(catalog) == {"web": 2}
    assert counts(catalog, "kibana.version=8.0.0") == {"web": 1}
    assert counts(catalog, "capabilities=none") == {"web": 1}


def test_categories_spec_error_is_raw_text():
    catalog = catalog_of([make_package("a", "1.0.0", format_version=None)])
    with pytest.raises(QueryFailed) as info:
        categories(catalog, parse_categories_query("spec.min=1.1&spec.max=2.10"))
    assert str(info.value) == (
        "can't compare spec version for a (1.1.0-2.10.0): package spec version is not set"
    )


def test_render_categories_looks_titles_up_by_current_title():
    body = render_categories(
        {
            "web": CategoryCount("web", "web", 3),
            "x": CategoryCount("x", "Upstream X", 1, "p", "Upstream P"),
        }
    )
    assert json.loads(body) == [
        {
            "id": "web",
            "title": "Web Server",
            "count": 3,
            "parent_id": "observability",
            "parent_title": "Observability",
        },
        {
            "id": "x",
            "title": "Upstream X",
            "count": 1,
            "parent_id": "p",
            "parent_title": "Upstream P",
        },
    ]

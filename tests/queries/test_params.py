"""Query-string parsing for /search and /categories: Go semantics and exact 400 texts."""

from __future__ import annotations

import pytest

from package_registry.gotext import go_quote, parse_bool
from package_registry.packages.versions import Version
from package_registry.queries.params import (
    CategoriesQuery,
    DiscoveryFilter,
    InvalidQuery,
    SearchQuery,
    parse_categories_query,
    parse_query_string,
    parse_search_query,
)

# --- Go url.ParseQuery -----------------------------------------------------------------

PARSE_QUERY_CASES = [
    pytest.param("", {}, id="empty"),
    pytest.param("a=1&b=2", {"a": ["1"], "b": ["2"]}, id="two-pairs"),
    pytest.param("a=1&a=2", {"a": ["1", "2"]}, id="repeated-key-keeps-order"),
    pytest.param("a", {"a": [""]}, id="missing-equals-is-empty-value"),
    pytest.param("a=x=y", {"a": ["x=y"]}, id="split-on-first-equals"),
    pytest.param("&&a=1&", {"a": ["1"]}, id="empty-segments-skipped"),
    pytest.param("a=1;b=2&c=3", {"c": ["3"]}, id="semicolon-segment-dropped"),
    pytest.param("a=%zz&b=2", {"b": ["2"]}, id="bad-escape-in-value-dropped"),
    pytest.param("%g1=x&b=2", {"b": ["2"]}, id="bad-escape-in-key-dropped"),
    pytest.param("a=%4&b=%", {}, id="truncated-escapes-dropped"),
    pytest.param("a=8.0.0+b", {"a": ["8.0.0 b"]}, id="plus-is-space"),
    pytest.param("a=8.0.0%2Bb", {"a": ["8.0.0+b"]}, id="encoded-plus"),
    pytest.param("k%2Ey=%C3%A9", {"k.y": ["é"]}, id="percent-decoding-utf8"),
    pytest.param("=x", {"": ["x"]}, id="empty-key"),
]


@pytest.mark.parametrize(("raw", "expected"), PARSE_QUERY_CASES)
def test_parse_query_string_follows_go_parse_query(raw: str, expected: dict[str, list[str]]):
    assert parse_query_string(raw) == expected


def test_parse_query_string_accepts_bytes():
    assert parse_query_string(b"a=1&b") == {"a": ["1"], "b": [""]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[pytest.param(t, True, id=f"true-{t}") for t in ("1", "t", "T", "TRUE", "true", "True")],
        *[pytest.param(t, False, id=f"false-{t}") for t in ("0", "f", "F", "FALSE", "false")],
        pytest.param("False", False, id="false-False"),
        pytest.param("yes", None, id="yes-is-invalid"),
        pytest.param("tRUE", None, id="mixed-case-is-invalid"),
        pytest.param("", None, id="empty-is-invalid"),
    ],
)
def test_parse_bool_follows_strconv(text: str, expected: bool | None):
    assert parse_bool(text) is expected


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        pytest.param("unknown", '"unknown"', id="plain"),
        pytest.param("", '""', id="empty"),
        pytest.param('a"b\\c', '"a\\"b\\\\c"', id="quote-and-backslash"),
        pytest.param("a\nb\tc", '"a\\nb\\tc"', id="control-escapes"),
        pytest.param("\x01\x7f", '"\\x01\\x7f"', id="other-controls-as-hex"),
        pytest.param("é ü", '"é ü"', id="printable-unicode-kept"),
        pytest.param("\u00ad", '"\\u00ad"', id="non-printable-unicode"),
        pytest.param("\udcff", '"\\xff"', id="invalid-utf8-byte"),
    ],
)
def test_go_quote_matches_strconv_quote(text: str, quoted: str):
    assert go_quote(text) == quoted


# --- /search parameters ----------------------------------------------------------------

SEARCH_VALUES = [
    pytest.param("", SearchQuery(), id="empty-query-default"),
    pytest.param(
        "kibana.version=7.2", SearchQuery(kibana_version=Version(7, 2, 0)), id="kibana-loose"
    ),
    pytest.param(
        "agent.version=v9.1.0", SearchQuery(agent_version=Version(9, 1, 0)), id="agent-loose"
    ),
    pytest.param("category=web", SearchQuery(category="web"), id="category"),
    pytest.param("package=example", SearchQuery(package="example"), id="package"),
    pytest.param("type=input", SearchQuery(type="input"), id="type"),
    pytest.param(
        "capabilities=a,,b",
        SearchQuery(capabilities=frozenset({"a", "", "b"})),
        id="capabilities-keep-empty-items",
    ),
    pytest.param("spec.min=1.1", SearchQuery(spec_min=Version(1, 1, 0)), id="spec-min"),
    pytest.param("spec.max=2.10", SearchQuery(spec_max=Version(2, 10, 0)), id="spec-max"),
    pytest.param("all=true", SearchQuery(all=True), id="all"),
    pytest.param("prerelease=1", SearchQuery(prerelease=True), id="prerelease"),
    pytest.param("experimental=T", SearchQuery(experimental=True), id="experimental"),
    pytest.param("experimental=false", SearchQuery(), id="experimental-false-no-effect"),
    pytest.param(
        "discovery=fields:a,b&discovery=datasets:x",
        SearchQuery(
            discovery=(
                DiscoveryFilter("fields", frozenset({"a", "b"})),
                DiscoveryFilter("datasets", frozenset({"x"})),
            )
        ),
        id="discovery-every-value",
    ),
    pytest.param("all=&all=true", SearchQuery(), id="empty-first-value-is-unset"),
    pytest.param("all=false&all=true", SearchQuery(), id="first-value-wins"),
    pytest.param("prerelease=foo;x", SearchQuery(), id="semicolon-pair-ignored"),
    pytest.param("internal=foo", SearchQuery(), id="internal-never-validated"),
    pytest.param("internal=true", SearchQuery(internal=True), id="internal-true-extension"),
    pytest.param("unknown=1", SearchQuery(), id="unknown-ignored-by-default"),
]


@pytest.mark.parametrize(("raw", "expected"), SEARCH_VALUES)
def test_search_parameter_is_parsed(raw: str, expected: SearchQuery):
    assert parse_search_query(raw) == expected


SEARCH_ERRORS = [
    pytest.param("all=foo", "invalid 'all' query param: 'foo'", id="all"),
    pytest.param("prerelease=foo", "invalid 'prerelease' query param: 'foo'", id="prerelease"),
    pytest.param(
        "experimental=foo", "invalid 'experimental' query param: 'foo'", id="experimental"
    ),
    pytest.param(
        "kibana.version=8.0.0+build",
        "invalid Kibana version '8.0.0 build': invalid semantic version",
        id="kibana-plus-is-space",
    ),
    pytest.param(
        "kibana.version=a.b", "invalid Kibana version 'a.b': invalid semantic version", id="kibana"
    ),
    pytest.param(
        "agent.version=x", "invalid agent version 'x': invalid semantic version", id="agent"
    ),
    pytest.param(
        "spec.max=2.10.1",
        "invalid 'spec.max' version: invalid version '2.10.1': it should be <major.version>",
        id="spec-max-three-parts",
    ),
    pytest.param(
        "spec.min=2",
        "invalid 'spec.min' version: invalid version '2': it should be <major.version>",
        id="spec-min-one-part",
    ),
    pytest.param(
        "spec.min=a.b",
        "invalid 'spec.min' version: invalid spec version 'a.b': invalid semantic version",
        id="spec-min-not-semver",
    ),
    pytest.param(
        "discovery=",
        "invalid 'discovery' query param: '': could not parse filter \"\"",
        id="discovery-empty",
    ),
    pytest.param(
        "discovery=fields:a&discovery=foo:bar",
        "invalid 'discovery' query param: 'foo:bar': unknown discovery filter \"foo\"",
        id="discovery-unknown-kind",
    ),
]


@pytest.mark.parametrize(("raw", "message"), SEARCH_ERRORS)
def test_search_invalid_parameter_gives_reference_text(raw: str, message: str):
    with pytest.raises(InvalidQuery) as info:
        parse_search_query(raw)
    assert str(info.value) == message
    assert info.value.body() == message.encode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("package=x&unknown=true", 'unknown query parameter: "unknown"', id="plain"),
        pytest.param("=x", 'unknown query parameter: ""', id="empty-key"),
        pytest.param("a%22b=1", 'unknown query parameter: "a\\"b"', id="quoted-key"),
    ],
)
def test_search_unknown_parameter_refused_when_disallowed(raw: str, message: str):
    with pytest.raises(InvalidQuery, match=r"^unknown query parameter") as info:
        parse_search_query(raw, allow_unknown=False)
    assert str(info.value) == message


def test_search_internal_accepted_even_when_unknown_disallowed():
    assert parse_search_query("internal=true", allow_unknown=False).internal


# --- /categories parameters ------------------------------------------------------------


@pytest.mark.parametrize("key", ["all", "package", "type", "category", "internal", "x"])
def test_categories_treats_search_only_keys_as_unknown(key: str):
    assert parse_categories_query(f"{key}=true") == CategoriesQuery()
    with pytest.raises(InvalidQuery) as info:
        parse_categories_query(f"{key}=true", allow_unknown=False)
    assert str(info.value) == f'unknown query parameter: "{key}"'


def test_categories_accepts_include_policy_templates():
    assert parse_categories_query("include_policy_templates=true").include_policy_templates
    assert not parse_categories_query("include_policy_templates=").include_policy_templates


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            "include_policy_templates=foo",
            "invalid 'include_policy_templates' query param: 'foo'",
            id="include-policy-templates",
        ),
        pytest.param(
            "include_policy_templates=foo&prerelease=bar",
            "invalid 'prerelease' query param: 'bar'",
            id="filter-errors-come-first",
        ),
        pytest.param(
            "experimental=foo", "invalid 'experimental' query param: 'foo'", id="experimental"
        ),
        pytest.param(
            "spec.max=2.10.1",
            "invalid 'spec.max' version: invalid version '2.10.1': it should be <major.version>",
            id="spec-max",
        ),
    ],
)
def test_categories_invalid_parameter_gives_reference_text(raw: str, message: str):
    with pytest.raises(InvalidQuery) as info:
        parse_categories_query(raw)
    assert str(info.value) == message


def test_categories_filters_parse_like_search():
    query = parse_categories_query(
        "kibana.version=6.5.2&prerelease=true&capabilities=a&spec.min=1.1&discovery=fields:x"
    )
    assert query.kibana_version == Version(6, 5, 2)
    assert query.prerelease
    assert query.capabilities == frozenset({"a"})
    assert query.spec_min == Version(1, 1, 0)
    assert query.discovery == (DiscoveryFilter("fields", frozenset({"x"})),)


# --- cache keys ------------------------------------------------------------------------

EQUIVALENT_SEARCHES = [
    pytest.param(
        ["", "all=false&prerelease=false", "prerelease=0", "experimental=false"], id="defaults"
    ),
    pytest.param(["kibana.version=8.0", "kibana.version=8.0.0", "kibana.version=v8"], id="kibana"),
    pytest.param(
        ["package=a&type=b", "type=b&package=a", "type=b&unknown=1&package=a"], id="order"
    ),
    pytest.param(["capabilities=a,b", "capabilities=b,a,a"], id="capability-set"),
    pytest.param(
        ["discovery=fields:a&discovery=datasets:x", "discovery=datasets:x&discovery=fields:a"],
        id="discovery-and",
    ),
    pytest.param(["experimental=true", "experimental=true&prerelease=true"], id="legacy-ignores"),
    pytest.param(["internal=false", "internal=", "internal=foo"], id="internal-off"),
]


@pytest.mark.parametrize("spellings", EQUIVALENT_SEARCHES)
def test_equivalent_searches_share_a_cache_key(spellings: list[str]):
    assert len({parse_search_query(s).cache_key() for s in spellings}) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param("", "prerelease=true", id="prerelease"),
        pytest.param("", "all=true", id="all"),
        pytest.param("", "capabilities=,", id="empty-capability-list"),
        pytest.param("", "internal=true", id="internal"),
        pytest.param(
            "kibana.version=8.0.0", "kibana.version=8.0.0-SNAPSHOT", id="prerelease-kibana"
        ),
    ],
)
def test_different_searches_have_different_cache_keys(a: str, b: str):
    assert parse_search_query(a).cache_key() != parse_search_query(b).cache_key()


def test_search_and_categories_keys_never_collide():
    assert parse_search_query("").cache_key() != parse_categories_query("").cache_key()
    assert (
        parse_categories_query("include_policy_templates=1").cache_key()
        != parse_categories_query("").cache_key()
    )

"""Routing as the reference's gorilla/mux set-up does it: cleaning, StrictSlash, order."""

from __future__ import annotations

import pytest

from package_registry.gopath import clean_path, join_path
from package_registry.web.router import Match, Redirect, resolve

ROUTED = [
    pytest.param("/", "", "index", {}, id="root"),
    pytest.param("/index.json", "", "index", {}, id="index-json"),
    pytest.param("/search", "a=b", "search", {}, id="search"),
    pytest.param("/categories", "", "categories", {}, id="categories"),
    pytest.param("/health", "", "health", {}, id="health"),
    pytest.param("/favicon.ico", "", "favicon", {}, id="favicon"),
    pytest.param("/openapi.json", "", "openapi", {}, id="openapi"),
    pytest.param(
        "/epr/example/example-1.0.0.zip",
        "",
        "artifact",
        {"name": "example", "version": "1.0.0"},
        id="artifact",
    ),
    pytest.param(
        "/epr/anything/nodirentries-1.0.0.zip",
        "",
        "artifact",
        {"name": "nodirentries", "version": "1.0.0"},
        id="artifact-directory-segment-ignored",
    ),
    pytest.param(
        "/epr/x/my-pkg-1.0.0.zip",
        "",
        "artifact",
        {"name": "my", "version": "pkg-1.0.0"},
        id="artifact-first-dash-splits",
    ),
    pytest.param(
        "/epr/example/example-1.0.0.zip.sig",
        "",
        "signature",
        {"name": "example", "version": "1.0.0"},
        id="signature",
    ),
    pytest.param(
        "/epr/example/example-1.0.0.tar.gz",
        "",
        "tarball",
        {"name": "example", "version": "1.0.0"},
        id="tarball",
    ),
    pytest.param(
        "/package/example/1.0.0/",
        "",
        "package_index",
        {"name": "example", "version": "1.0.0"},
        id="package-index",
    ),
    pytest.param(
        "/package/example/1.0.0/docs/README.md",
        "",
        "static",
        {"name": "example", "version": "1.0.0", "file": "docs/README.md"},
        id="static",
    ),
]


@pytest.mark.parametrize(("path", "query", "route", "params"), ROUTED)
def test_path_is_routed_to_its_handler(path, query, route, params):
    found = resolve(path, query)
    assert isinstance(found, Match)
    assert found.route.name == route
    assert found.params == params


REDIRECTS = [
    pytest.param("/search/", "a=b", "/search?a=b", False, id="strict-slash-removes"),
    pytest.param("/categories/", "", "/categories", False, id="categories-slash"),
    pytest.param("/package/example/1.0.0", "", "/package/example/1.0.0/", False, id="adds-slash"),
    pytest.param(
        "/package/example/1.0.0/docs/",
        "",
        "/package/example/1.0.0/docs",
        False,
        id="static-trailing-slash",
    ),
    pytest.param("/package/Example/1.0.0/", "", "/package/Example/1.0.0", False, id="upper-case"),
    pytest.param("//search", "", "/search", True, id="double-slash-cleaned"),
    pytest.param("/package/a/../search", "", "/package/search", True, id="dotdot-cleaned"),
    pytest.param(
        "/package/x/1.0.0/./manifest.yml",
        "",
        "/package/x/1.0.0/manifest.yml",
        True,
        id="dot-cleaned",
    ),
    pytest.param("/a b/../c d", "", "/c%20d", True, id="location-is-escaped"),
]


@pytest.mark.parametrize(("path", "query", "location", "bare"), REDIRECTS)
def test_redirects_match_the_reference(path, query, location, bare):
    found = resolve(path, query)
    assert isinstance(found, Redirect)
    assert (found.location, found.bare) == (location, bare)


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/metrics",
        "/search/x",
        "/package/x",
        "/epr/example/Example-1.0.0.zip",
        "/package/Example/1.0.0",
    ],
)
def test_unknown_paths_match_nothing(path):
    assert resolve(path, "") is None


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        *(("/", "/"), ("//a//b/", "/a/b"), ("/a/./b/../c", "/a/c"), ("/../..", "/")),
        *(("/a/..", "/"), ("", "."), ("a/../..", ".."), ("./a/", "a"), ("///a", "/a")),
    ],
)
def test_clean_path_collapses_like_go_path_clean(raw, clean):
    assert clean_path(raw) == clean


@pytest.mark.parametrize(
    ("parts", "joined"),
    [
        ((), ""),
        (("", ""), ""),
        (("/package", "a", "1.0", "/img/x.png"), "/package/a/1.0/img/x.png"),
        (("docs", "../x.md"), "x.md"),
        (("a/", "", "b//"), "a/b"),
    ],
)
def test_join_path_is_go_path_join(parts, joined):
    assert join_path(*parts) == joined

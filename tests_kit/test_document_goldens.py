"""Package documents and /search items against the reference's golden files.

The folder profiles: ``second_package_path`` shadows ``package``; ``combined`` serves the
zips of the three fixture paths first, then their folders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from package_registry.packages.model import Package
from package_registry.packages.render import render_json
from package_registry.sources.base import LoadReport
from package_registry.sources.folders import load_folders
from package_registry.sources.zips import load_zips
from tests.sources.test_proxy import local_packages, round_trip
from tests_kit.kit import DATA, GENERATED


def load(*paths: Path) -> LoadReport:
    return load_folders([str(p) for p in paths], validate=True, require_signatures=False, workers=1)


def assert_golden(doc: dict[str, Any], golden: Path) -> None:
    """Same JSON, and the same bytes once surrounding white space is trimmed."""
    expected = golden.read_bytes()
    rendered = render_json(doc)
    assert json.loads(rendered) == json.loads(expected)
    assert rendered.strip() == expected.strip()


def golden_index_cases() -> list[Any]:
    """``generated/package/<name>/<version>/index.json`` of every fixture package."""
    return [
        pytest.param(
            golden.parent.parent.name,
            golden.parent.name,
            id=f"{golden.parent.parent.name}/{golden.parent.name}",
        )
        for golden in sorted(GENERATED.glob("package/*/*/index.json"))
        # Goldens left over from removed fixtures have no package to compare with.
        if (DATA / "package" / golden.parent.parent.name / golden.parent.name).is_dir()
    ]


@pytest.fixture(scope="module")
def second_and_package() -> dict[tuple[str, str], Package]:
    """The ``second+package`` profile: second_package_path shadows package."""
    report = load(DATA / "second_package_path", DATA / "package")
    assert report.rejects == []
    return {package.key: package for package in report.packages}


@pytest.fixture(scope="module")
def package_only() -> dict[tuple[str, str], Package]:
    """The folder half of the ``local-storage+package`` profile."""
    report = load(DATA / "package")
    assert report.rejects == []
    return {package.key: package for package in report.packages}


@pytest.mark.parametrize(("name", "version"), golden_index_cases())
def test_package_document_matches_golden(
    second_and_package: dict[tuple[str, str], Package], name: str, version: str
) -> None:
    package = second_and_package[(name, version)]
    assert_golden(package.full, GENERATED / "package" / name / version / "index.json")


@pytest.mark.parametrize(
    ("golden", "name", "version"),
    [
        ("package.json", "example", "1.0.0"),
        ("package-multiversion-1.1.0.json", "multiversion", "1.1.0"),
        ("package-deprecated-input-package-1.0.0.json", "deprecated_input_package", "1.0.0"),
        ("package-deprecated-input-policy-1.0.0.json", "deprecated_input_policy", "1.0.0"),
        (
            "package-deprecated-integration-input-1.0.0.json",
            "deprecated_integration_input",
            "1.0.0",
        ),
        (
            "package-deprecated-integration-stream-1.0.0.json",
            "deprecated_integration_stream",
            "1.0.0",
        ),
        ("datasources-1.0.0-package.json", "datasources", "1.0.0"),
        ("sql-input-package.json", "sql_input", "0.3.0"),
    ],
)
def test_named_package_document_matches_golden(
    package_only: dict[tuple[str, str], Package], golden: str, name: str, version: str
) -> None:
    assert_golden(package_only[(name, version)].full, GENERATED / golden)


def test_search_items_match_golden() -> None:
    """``search-all.json`` comes from the ``combined`` profile: zips, then folders."""
    paths = [str(DATA / "local-storage"), str(DATA / "second_package_path"), str(DATA / "package")]
    zipped = load_zips(paths, require_signatures=False).packages
    folders = load_folders(paths, require_signatures=False).packages
    zipped_keys = {package.key for package in zipped}
    combined = [*zipped, *(package for package in folders if package.key not in zipped_keys)]
    by_key = {package.key: package for package in combined}
    items = json.loads((GENERATED / "search-all.json").read_text())
    assert items
    for item in items:
        summary = by_key[(item["name"], item["version"])].summary
        assert summary == item
        # Parsed JSON keeps the golden's key order, so this compares order at every level.
        assert render_json(summary) == render_json(item), item["name"]


def test_every_version_carries_the_latest_deprecation_notice(
    second_and_package: dict[tuple[str, str], Package],
) -> None:
    notices = [
        package.full.get("deprecated")
        for (name, _), package in second_and_package.items()
        if name == "multiversion"
    ]
    assert len(notices) == 4
    assert all(
        n == {"since": "1.2.0", "description": "This package is deprecated"} for n in notices
    )


def test_documents_of_the_conformance_packages_decode_to_the_same_bytes():
    round_trip(
        local_packages(
            DATA / "package",
            DATA / "second_package_path",
            DATA / "local-storage",
        )
    )


@pytest.mark.parametrize(
    ("golden", "name", "version"),
    [
        ("package-zip.json", "example", "1.0.1"),
        ("package-zip-nodirentries.json", "nodirentries", "1.0.0"),
    ],
)
def test_zip_package_document_matches_golden(golden: str, name: str, version: str) -> None:
    report = load_zips([str(DATA / "local-storage")], require_signatures=False)
    assert report.rejects == []
    package = {p.key: p for p in report.packages}[(name, version)]
    expected = (DATA / "generated" / golden).read_bytes()
    assert json.loads(render_json(package.full)) == json.loads(expected)
    assert render_json(package.full).strip() == expected.strip()
    assert package.files is not None and package.files.kind == "zip"

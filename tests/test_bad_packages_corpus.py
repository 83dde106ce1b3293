"""The malformed-package corpus (tests/data/bad-packages) and how the loader rejects it.

Each ``tests/data/bad-packages/<case>/`` is a package path holding one package that
breaks one load-time rule; ``EXPECTED.json`` maps the case to a distinctive part of the
reference's error text. Broken zips are made here, in fixtures.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from package_registry.sources.folders import load_folders
from package_registry.sources.zips import load_zips

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad-packages"
EXAMPLES = ROOT / "src" / "package_registry" / "examples"
EXPECTED: dict[str, str] = json.loads((BAD / "EXPECTED.json").read_text())

#: Example packages that any load of the examples folder must return.
EXAMPLE_FOLDER_KEYS = {
    ("sample_logs", "1.0.0"),
    ("sample_logs", "1.1.0"),
    ("sample_logs", "1.2.0-beta1"),
    ("sample_input", "0.2.0"),
    ("sample_content", "1.0.0"),
}
EXAMPLE_ZIP_KEYS = {("sample_metrics", "1.0.0")}


def _load(loader: Any, *paths: Path) -> Any:
    """Run ``loader`` over ``paths`` with signature enforcement off."""
    return loader([str(p) for p in paths], require_signatures=False)


def _keys(result: Any) -> set[tuple[str, str]]:
    return {tuple(p.key) for p in result.packages}


def _reason(reject: Any) -> str:
    """All the text a reject carries, whatever shape the loader gives it."""
    parts = [
        str(getattr(reject, attr))
        for attr in ("reason", "message", "error")
        if hasattr(reject, attr)
    ]
    if isinstance(reject, tuple | list):
        parts.extend(str(item) for item in reject)
    parts.append(str(reject))
    return "\n".join(parts)


def _package_dirs(case: Path) -> list[Path]:
    return sorted(p.parent for p in case.glob("*/*/manifest.yml"))


# --------------------------------------------------------------------------- corpus shape


def test_expected_cases_match_folders() -> None:
    folders = {p.name for p in BAD.iterdir() if p.is_dir()}
    assert folders == set(EXPECTED)
    assert len(EXPECTED) >= 25


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case_holds_one_package(case: str) -> None:
    assert EXPECTED[case].strip(), "empty expected text"
    packages = _package_dirs(BAD / case)
    assert len(packages) == 1, packages
    assert packages[0].name == "1.0.0"
    assert (packages[0] / "manifest.yml").is_file()


# --------------------------------------------------------------------------- loader


def test_examples_load_cleanly() -> None:
    result = _load(load_folders, EXAMPLES)
    assert list(result.rejects) == []
    assert _keys(result) == EXAMPLE_FOLDER_KEYS


def test_example_zip_loads_cleanly() -> None:
    result = _load(load_zips, EXAMPLES)
    assert list(result.rejects) == []
    assert _keys(result) == EXAMPLE_ZIP_KEYS


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case_is_rejected_for_its_reason(case: str) -> None:
    result = _load(load_folders, BAD / case)
    assert _keys(result) == set()
    rejects = list(result.rejects)
    assert len(rejects) == 1, rejects
    assert EXPECTED[case] in _reason(rejects[0])


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case_does_not_hide_good_packages(case: str) -> None:
    result = _load(load_folders, BAD / case, EXAMPLES)
    assert _keys(result) == EXAMPLE_FOLDER_KEYS
    rejects = list(result.rejects)
    assert len(rejects) == 1, rejects
    assert EXPECTED[case] in _reason(rejects[0])


# --------------------------------------------------------------------------- broken zips


@pytest.fixture
def not_a_zip(tmp_path: Path) -> Path:
    folder = tmp_path / "notazip"
    folder.mkdir()
    (folder / "notazip-1.0.0.zip").write_bytes(b"this is not a zip archive\x00\xff" * 8)
    return folder


@pytest.fixture
def zip_without_manifest(tmp_path: Path) -> Path:
    folder = tmp_path / "nomanifest"
    folder.mkdir()
    with zipfile.ZipFile(folder / "nomanifest-1.0.0.zip", "w") as archive:
        archive.writestr("nomanifest-1.0.0/", b"")
        archive.writestr("nomanifest-1.0.0/docs/README.md", b"# No manifest\n")
        # A manifest one level too deep does not count.
        archive.writestr("nomanifest-1.0.0/nested/manifest.yml", b"name: nomanifest\n")
    return folder


def test_invalid_zip_is_skipped(not_a_zip: Path) -> None:
    # The reference logs "ignoring invalid zip file" and carries on: no package, no error.
    result = _load(load_zips, not_a_zip)
    assert _keys(result) == set()
    assert list(result.rejects) == []


def test_invalid_zip_does_not_hide_good_packages(not_a_zip: Path) -> None:
    result = _load(load_zips, not_a_zip, EXAMPLES)
    assert _keys(result) == EXAMPLE_ZIP_KEYS


def test_zip_without_manifest_is_rejected(zip_without_manifest: Path) -> None:
    result = _load(load_zips, zip_without_manifest)
    assert _keys(result) == set()
    rejects = list(result.rejects)
    assert len(rejects) == 1, rejects
    assert "failed to determine root directory in package" in _reason(rejects[0])


def test_zip_without_manifest_does_not_hide_good_packages(zip_without_manifest: Path) -> None:
    result = _load(load_zips, zip_without_manifest, EXAMPLES)
    assert _keys(result) == EXAMPLE_ZIP_KEYS
    assert len(list(result.rejects)) == 1

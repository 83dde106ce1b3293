"""The synthetic benchmark corpus (bench/make_corpus.py) is what it claims to be."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from package_registry.sources.folders import load_folders
from package_registry.sources.zips import load_zips
from tests.corpus import make_corpus

STRICT_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-(0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*)?"
    r"(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?"
)
REQUIRED_FIELDS = {
    "data_stream.type": "constant_keyword",
    "data_stream.dataset": "constant_keyword",
    "data_stream.namespace": "constant_keyword",
    "@timestamp": "date",
}


class PackageView:
    """Files of one generated package, folder or zip, by package-relative path."""

    def __init__(self, files: dict[str, bytes], dirs: set[str], where: str) -> None:
        self.files = files
        self.dirs = dirs
        self.where = where

    @classmethod
    def from_folder(cls, folder: Path) -> PackageView:
        files, dirs = {}, set()
        for path in folder.rglob("*"):
            rel = path.relative_to(folder).as_posix()
            if path.is_dir():
                dirs.add(rel)
            else:
                files[rel] = path.read_bytes()
        return cls(files, dirs, str(folder))

    @classmethod
    def from_zip(cls, path: Path) -> PackageView:
        top = path.name.removesuffix(".zip") + "/"
        files, dirs = {}, set()
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            assert names[0] == top, f"{path}: first entry should be the top folder"
            for name in names:
                assert name.startswith(top), f"{path}: {name} outside {top}"
                rel = name[len(top) :]
                if not rel:
                    continue
                if name.endswith("/"):
                    dirs.add(rel.rstrip("/"))
                else:
                    files[rel] = archive.read(name)
        return cls(files, dirs, str(path))

    def yaml(self, rel: str) -> Any:
        return yaml.safe_load(self.files[rel])


def _packages(out: Path) -> dict[tuple[str, str], PackageView]:
    found: dict[tuple[str, str], PackageView] = {}
    for child in sorted(out.iterdir()):
        if child.is_dir():
            for version in sorted(child.iterdir()):
                if version.is_dir():
                    found[(child.name, version.name)] = PackageView.from_folder(version)
        elif child.suffix == ".zip":
            name, _, version = child.name.removesuffix(".zip").partition("-")
            found[(name, version)] = PackageView.from_zip(child)
    return found


def _defined_fields(view: PackageView, data_stream: str) -> dict[str, str]:
    defined: dict[str, str] = {}
    prefix = f"data_stream/{data_stream}/fields/"
    for rel in view.files:
        if not rel.startswith(prefix):
            continue
        entries = view.yaml(rel)
        assert isinstance(entries, list), f"{view.where}/{rel} is not a list"
        for entry in entries:
            assert isinstance(entry, dict)
            defined[entry["name"]] = entry.get("type", "")
            for sub in entry.get("fields") or []:
                defined[f"{entry['name']}.{sub['name']}"] = sub.get("type", "")
    return defined


def _check_package(key: tuple[str, str], view: PackageView) -> None:
    name, version = key
    where = view.where
    manifest = view.yaml("manifest.yml")
    for required in ("format_version", "name", "title", "version", "description", "type"):
        assert manifest.get(required), f"{where}: no {required}"
    assert manifest["name"] == name, where
    assert str(manifest["version"]) == version, where
    assert STRICT_SEMVER.fullmatch(version), where
    assert STRICT_SEMVER.fullmatch(str(manifest["format_version"])), where
    assert manifest["type"] in ("integration", "input", "content"), where
    assert manifest.get("release", "ga") in ("experimental", "beta", "ga"), where
    assert "docs/README.md" in view.files, where
    for image in manifest.get("icons", []) + manifest.get("screenshots", []):
        assert image["src"].lstrip("/") in view.files, f"{where}: {image['src']} missing"
    assert not any("-" in d.rsplit("/", 1)[-1] for d in view.dirs), f"{where}: dash in a dir"
    for template in manifest.get("policy_templates", []):
        for field in ("name", "title", "description"):
            assert template.get(field), f"{where}: policy template without {field}"
        for item in template.get("inputs", []):
            assert bool(item.get("type")) != bool(item.get("package")), where
    streams = {
        rel.split("/")[1]
        for rel in view.files
        if re.fullmatch(r"data_stream/[^/]+/manifest\.yml", rel)
    }
    if manifest["type"] == "integration":
        assert streams, f"{where}: integration without data stream"
    for data_stream in streams:
        ds = view.yaml(f"data_stream/{data_stream}/manifest.yml")
        assert ds["type"] in ("logs", "metrics", "synthetics", "traces"), where
        assert ds.get("title"), where
        assert "-" not in ds.get("dataset", f"{name}.{data_stream}"), where
        defined = _defined_fields(view, data_stream)
        for field, kind in REQUIRED_FIELDS.items():
            assert defined.get(field) == kind, f"{where}: {field} should be {kind}"


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("corpus") / "packages"
    summary = make_corpus.generate(str(out), packages=20, versions=300, seed=7, zip_fraction=0.15)
    return out, summary


def test_requested_counts(small_corpus: tuple[Path, Any]) -> None:
    out, summary = small_corpus
    packages = _packages(out)
    assert summary.versions == 300 and summary.packages == 20
    assert len(packages) == 300
    assert len({name for name, _ in packages}) == 20
    zips = sorted(out.glob("*.zip"))
    assert summary.zips == len(zips) > 0
    assert summary.folders == 300 - len(zips)
    assert sum(summary.types.values()) == 300
    assert summary.types.get("integration", 0) > summary.types.get("input", 0)


def test_every_package_is_valid(small_corpus: tuple[Path, Any]) -> None:
    out, _ = small_corpus
    for key, view in _packages(out).items():
        _check_package(key, view)


def test_variety(small_corpus: tuple[Path, Any]) -> None:
    out, _ = small_corpus
    manifests = [view.yaml("manifest.yml") for view in _packages(out).values()]
    kibana = {m["conditions"]["kibana"]["version"] for m in manifests if "conditions" in m}
    assert len(kibana) >= 5
    assert any("||" in c for c in kibana)
    assert len({m["format_version"] for m in manifests}) >= 5
    versions = [str(m["version"]) for m in manifests]
    assert any("-" in v for v in versions), "no prerelease"
    assert any(v.startswith("0.") for v in versions) and any(
        not v.startswith("0.") for v in versions
    )


def test_same_seed_same_corpus(tmp_path: Path) -> None:
    first = make_corpus.generate(str(tmp_path / "a"), packages=5, versions=40, seed=11)
    second = make_corpus.generate(str(tmp_path / "b"), packages=5, versions=40, seed=11)
    assert first.types == second.types
    a, b = _packages(tmp_path / "a"), _packages(tmp_path / "b")
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].files == b[key].files


def test_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("user data\n")
    with pytest.raises(FileExistsError):
        make_corpus.generate(str(tmp_path), packages=2, versions=4)
    with pytest.raises(FileExistsError):
        make_corpus.generate(str(tmp_path), packages=2, versions=4, force=True)
    assert (tmp_path / "keep.txt").exists()


def test_force_replaces_a_previous_corpus(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    make_corpus.generate(str(out), packages=3, versions=9, seed=1)
    summary = make_corpus.generate(str(out), packages=2, versions=5, seed=2, force=True)
    assert summary.versions == 5 and len(_packages(out)) == 5


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    code = make_corpus.main(
        [str(out), "--packages", "3", "--versions", "12", "--quiet", "--sig-stubs"]
    )
    assert code == 0
    assert "12 versions of 3 packages" in capsys.readouterr().out
    packages = _packages(out)
    assert len(packages) == 12
    for name, version in packages:
        assert (out / name / f"{version}.sig").is_file()


def test_loads_without_rejects(small_corpus: tuple[Path, Any]) -> None:
    out, summary = small_corpus
    result = load_folders([str(out)], require_signatures=False)
    assert list(result.rejects) == []
    assert len(result.packages) == summary.folders
    result = load_zips([str(out)], require_signatures=False)
    assert list(result.rejects) == []
    assert len(result.packages) == summary.zips

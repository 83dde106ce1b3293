"""Folder packages: discovery, precedence, rejects, deprecation and safe file access."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from package_registry.sources.base import LoadReport
from package_registry.sources.folders import FolderFiles, load_folders

MANIFEST = """\
format_version: 3.0.0
name: {name}
title: {title}
version: {version}
description: A tiny package.
"""


def write_package(
    root: Path, name: str, version: str, extra: str = "", *, title: str = "T"
) -> Path:
    folder = root / name / version
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "README.md").write_text("# Readme\n")
    manifest = MANIFEST.format(name=name, version=version, title=title) + extra
    (folder / "manifest.yml").write_text(manifest)
    return folder


def load(*paths: Path, **options: object) -> LoadReport:
    options.setdefault("require_signatures", False)
    return load_folders([str(p) for p in paths], **options)  # type: ignore[arg-type]


def keys(report: LoadReport) -> list[tuple[str, str]]:
    return [package.key for package in report.packages]


def test_layout_is_name_then_strict_version(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_package(tmp_path, "good", "1.0.0")
    write_package(tmp_path, "good", "1.0")  # not strict semver
    (tmp_path / "good" / "1.0.0.sig").write_text("sig")  # expected: not reported
    (tmp_path / "good" / "2.0.0.sig").write_text("sig")  # no such version: reported
    (tmp_path / "stray.txt").write_text("ignored silently")
    (tmp_path / "manifest.yml").write_text("name: ignored\n")
    write_package(tmp_path / "deeper", "nested", "1.0.0")  # depth 3: never a package
    with caplog.at_level(logging.WARNING, logger="package_registry.sources"):
        report = load(tmp_path)
    assert keys(report) == [("good", "1.0.0")]
    assert report.rejects == []
    warnings = {(r.getMessage(), r.__dict__["file.path"]) for r in caplog.records}
    assert warnings == {
        ("ignoring unexpected directory", str(tmp_path / "good" / "1.0")),
        ("ignoring unexpected file", str(tmp_path / "good" / "2.0.0.sig")),
        ("ignoring unexpected directory", str(tmp_path / "deeper" / "nested")),
    }


def test_missing_package_path_is_skipped_silently(tmp_path: Path) -> None:
    report = load(tmp_path / "does-not-exist")
    assert (report.packages, report.rejects) == ([], [])


def test_symlinked_package_path_is_not_descended(tmp_path: Path) -> None:
    write_package(tmp_path / "real", "good", "1.0.0")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert keys(load(tmp_path / "link")) == []
    assert keys(load(tmp_path / "real")) == [("good", "1.0.0")]


def test_missing_signature_is_rejected_when_required(tmp_path: Path) -> None:
    write_package(tmp_path, "unsigned", "1.0.0")
    signed = write_package(tmp_path, "signed", "1.0.0")
    Path(f"{signed}.sig").write_text("-----BEGIN PGP SIGNATURE-----\n")
    report = load(tmp_path, require_signatures=True)
    assert keys(report) == [("signed", "1.0.0")]
    assert [(r.path, r.reason) for r in report.rejects] == [
        (
            str(tmp_path / "unsigned" / "1.0.0"),
            "package unsigned-1.0.0 is missing a required signature file",
        )
    ]
    package = report.packages[0]
    assert package.full["signature_path"] == "/epr/signed/signed-1.0.0.zip.sig"
    assert package.files is not None and package.files.signature == f"{signed}.sig"


def test_first_package_path_wins_for_the_same_version(tmp_path: Path) -> None:
    write_package(tmp_path / "first", "dup", "1.0.0", title="First")
    write_package(tmp_path / "second", "dup", "1.0.0", title="Second")
    report = load(tmp_path / "first", tmp_path / "second")
    assert [p.full["title"] for p in report.packages] == ["First"]


def test_bad_package_is_rejected_and_the_rest_still_load(tmp_path: Path) -> None:
    for name in ("alpha", "beta", "gamma", "delta"):
        write_package(tmp_path, name, "1.0.0")
    (tmp_path / "beta" / "1.0.0" / "manifest.yml").write_text("name: [broken\n")
    report = load(tmp_path)
    assert keys(report) == [("alpha", "1.0.0"), ("delta", "1.0.0"), ("gamma", "1.0.0")]
    [reject] = report.rejects
    path = tmp_path / "beta" / "1.0.0"
    assert reject.path == str(path)
    assert reject.reason.startswith(
        f"loading package failed (path: {path}): failed to create package"
    )


def test_results_keep_discovery_order_whatever_the_workers(tmp_path: Path) -> None:
    for index in range(12):
        write_package(tmp_path, f"pkg{index:02d}", "1.0.0")
        write_package(tmp_path, f"pkg{index:02d}", "2.0.0")
    sequential = load(tmp_path, workers=1)
    parallel = load(tmp_path, workers=4)
    assert keys(sequential) == keys(parallel) == sorted(keys(sequential))
    assert [p.full for p in sequential.packages] == [p.full for p in parallel.packages]


def test_latest_deprecation_notice_reaches_every_version(tmp_path: Path) -> None:
    notice = "deprecated: {since: 1.5.0, description: gone}\n"
    write_package(tmp_path, "old", "1.0.0")
    write_package(tmp_path, "old", "1.5.0", notice)
    write_package(tmp_path, "old", "2.0.0")
    report = load(tmp_path)
    for package in report.packages:
        assert package.full["deprecated"] == {"since": "1.5.0", "description": "gone"}
        assert package.summary["deprecated"] == {"since": "1.5.0", "description": "gone"}
        assert list(package.full).index("deprecated") == list(package.full).index("path") + 1


# --- serving ------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> FolderFiles:
    folder = write_package(tmp_path, "serve", "1.0.0")
    (folder / "img").mkdir()
    (folder / "img" / "icon.svg").write_bytes(b"<svg/>")
    (tmp_path / "secret.txt").write_text("outside")
    (folder / "img" / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (folder / "img" / "alias.svg").symlink_to(folder / "img" / "icon.svg")
    return FolderFiles(str(folder))


def test_stat_gives_size_and_mtime_of_regular_files(files: FolderFiles) -> None:
    info = files.stat("img/icon.svg")
    assert info is not None and info.size == 6
    assert info.mtime == os.stat(os.path.join(files.location, "img", "icon.svg")).st_mtime
    with files.open("img/icon.svg") as stream:
        assert stream.read() == b"<svg/>"
    assert files.local_path("img/icon.svg") == os.path.realpath(
        os.path.join(files.location, "img", "icon.svg")
    )


@pytest.mark.parametrize(
    "relpath",
    ["img", "missing.svg", "../serve/1.0.0/img/icon.svg", "/etc/passwd", "img/../../x", ""],
)
def test_stat_refuses_directories_missing_and_unsafe_paths(
    files: FolderFiles, relpath: str
) -> None:
    assert files.stat(relpath) is None
    assert files.local_path(relpath) is None


def test_symlink_out_of_the_package_is_never_followed(files: FolderFiles) -> None:
    assert files.stat("img/escape.txt") is None
    assert files.local_path("img/escape.txt") is None
    with pytest.raises(FileNotFoundError):
        files.open("img/escape.txt")


def test_symlink_inside_the_package_is_served(files: FolderFiles) -> None:
    info = files.stat("img/alias.svg")
    assert info is not None and info.size == 6
    assert files.kind == "folder"

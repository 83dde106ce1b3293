"""Zipped packages: documents, package root, member order, unsafe members and member times."""

from __future__ import annotations

import calendar
import logging
import struct
import zipfile
from pathlib import Path

import pytest

from package_registry.packages.model import Package
from package_registry.packages.render import render_json
from package_registry.sources.base import LoadReport
from package_registry.sources.folders import load_folders
from package_registry.sources.zips import ZipFiles, load_zips
from tests.corpus import VERSIONS, small_corpus

MANIFEST = b"""\
format_version: 3.0.0
name: zipped
title: Zipped
version: 1.0.0
description: A zipped package.
"""
FIELDS = b"""\
- {name: data_stream.type, type: constant_keyword}
- {name: data_stream.dataset, type: constant_keyword}
- {name: data_stream.namespace, type: constant_keyword}
- {name: '@timestamp', type: date}
"""
DOS_TIME = (2021, 3, 4, 5, 6, 8)


def write_zip(path: Path, members: list[tuple[str, bytes]], *, extra: bytes = b"") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, DOS_TIME)
            info.extra = extra
            archive.writestr(info, data)
    return path


def load(*paths: Path, **options: object) -> LoadReport:
    options.setdefault("require_signatures", False)
    return load_zips([str(p) for p in paths], **options)  # type: ignore[arg-type]


def test_root_is_the_folder_of_the_first_top_level_manifest(tmp_path: Path) -> None:
    write_zip(
        tmp_path / "anything.zip",
        [
            ("deep/er/manifest.yml", b"not: this one\n"),
            ("root/manifest.yml", MANIFEST),
            ("root/docs/README.md", b"# Zipped\n"),
            ("other/manifest.yml", b"nor: this one\n"),
        ],
    )
    [package] = load(tmp_path).packages
    assert package.key == ("zipped", "1.0.0")
    assert package.full["assets"] == [
        "/package/zipped/1.0.0/manifest.yml",
        "/package/zipped/1.0.0/docs/README.md",
    ]


def test_data_streams_follow_central_directory_order(tmp_path: Path) -> None:
    members = [("p/manifest.yml", MANIFEST), ("p/docs/README.md", b"# Zipped\n")]
    for stream in ("second", "first"):
        members += [
            (f"p/data_stream/{stream}/manifest.yml", b"title: T\ntype: logs\n"),
            (f"p/data_stream/{stream}/fields/base.yml", FIELDS),
        ]
    write_zip(tmp_path / "zipped-1.0.0.zip", members)
    [package] = load(tmp_path).packages
    assert [s["path"] for s in package.full["data_streams"]] == ["second", "first"]


def test_archive_without_a_root_manifest_is_rejected(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "broken.zip", [("a/b/manifest.yml", MANIFEST)])
    report = load(tmp_path)
    assert report.packages == []
    assert [(r.path, r.reason) for r in report.rejects] == [
        (
            str(archive),
            f"loading package failed (path: {archive}): failed to create package from path"
            f" {archive}: failed to determine root directory in package (path: {archive})",
        )
    ]


def test_invalid_zip_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "bogus.zip").write_bytes(b"not a zip")
    (tmp_path / "folder.zip").mkdir()
    with caplog.at_level(logging.WARNING, logger="package_registry.sources"):
        report = load(tmp_path, tmp_path / "missing")
    assert (report.packages, report.rejects) == ([], [])
    [record] = caplog.records
    assert record.getMessage() == "ignoring invalid zip file"
    assert record.__dict__["file.path"] == str(tmp_path / "bogus.zip")


def test_zip_signature_sits_beside_the_archive(tmp_path: Path) -> None:
    members = [("p/manifest.yml", MANIFEST), ("p/docs/README.md", b"# Zipped\n")]
    (tmp_path / "nested").mkdir()
    archive = write_zip(tmp_path / "nested" / "zipped-1.0.0.zip", members)
    unsigned = load(tmp_path, require_signatures=True)
    assert [r.reason for r in unsigned.rejects] == [
        "package zipped-1.0.0 is missing a required signature file"
    ]
    Path(f"{archive}.sig").write_text("sig")
    [package] = load(tmp_path, require_signatures=True).packages
    assert package.full["signature_path"] == "/epr/zipped/zipped-1.0.0.zip.sig"


def test_unsafe_member_names_are_never_loaded_or_served(tmp_path: Path) -> None:
    archive = write_zip(
        tmp_path / "zipped-1.0.0.zip",
        [
            ("p/manifest.yml", MANIFEST),
            ("p/docs/README.md", b"# Zipped\n"),
            ("p/../evil.txt", b"evil"),
            ("p/docs/../../evil2.txt", b"evil"),
            ("/p/absolute.txt", b"evil"),
        ],
    )
    [package] = load(tmp_path).packages
    assert package.full["assets"] == [
        "/package/zipped/1.0.0/manifest.yml",
        "/package/zipped/1.0.0/docs/README.md",
    ]
    files = ZipFiles(str(archive))
    for relpath in ("../evil.txt", "evil.txt", "evil2.txt", "absolute.txt", "/p/absolute.txt"):
        assert files.stat(relpath) is None
    assert files.local_path("docs/README.md") is None


def test_members_are_served_with_their_times(tmp_path: Path) -> None:
    mtime = 1_600_000_000
    extended = struct.pack("<HHBi", 0x5455, 5, 1, mtime)
    dos = write_zip(
        tmp_path / "dos.zip", [("p/manifest.yml", MANIFEST), ("p/docs/README.md", b"# Hi\n")]
    )
    ext = write_zip(tmp_path / "ext.zip", [("p/manifest.yml", MANIFEST)], extra=extended)
    readme = ZipFiles(str(dos)).stat("docs/README.md")
    assert readme is not None and readme.size == 5
    assert readme.mtime == calendar.timegm((*DOS_TIME, 0, 0, 0))
    manifest = ZipFiles(str(ext)).stat("manifest.yml")
    assert manifest is not None and manifest.mtime == mtime
    with ZipFiles(str(dos)).open("docs/README.md") as stream:
        assert stream.read() == b"# Hi\n"
    assert ZipFiles(str(dos)).stat("docs") is None


def test_member_opens_reuse_the_directory_read_once(tmp_path: Path, monkeypatch) -> None:
    members = [("p/manifest.yml", MANIFEST)]
    members += [(f"p/docs/f{i}.md", b"x" * i) for i in range(2000)]
    files = ZipFiles(str(write_zip(tmp_path / "many.zip", members)))
    assert files.stat("docs/f7.md") is not None  # the directory is read here, once
    reads = []
    real = zipfile.ZipFile.__init__

    def counting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(args)
        real(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "__init__", counting)
    for i in (7, 1999, 0):
        assert files.stat(f"docs/f{i}.md") is not None
        with files.open(f"docs/f{i}.md") as stream:
            assert stream.read() == b"x" * i
    assert reads == []


def test_a_replaced_zip_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "zipped-1.0.0.zip"
    write_zip(path, [("p/manifest.yml", MANIFEST), ("p/docs/README.md", b"old\n")])
    files = ZipFiles(str(path))
    with files.open("docs/README.md") as stream:
        assert stream.read() == b"old\n"
    replacement = write_zip(
        tmp_path / "new.zip",
        [("p/docs/NEW.md", b"n"), ("p/manifest.yml", MANIFEST), ("p/docs/README.md", b"newer\n")],
    )
    replacement.replace(path)
    info = files.stat("docs/README.md")
    assert info is not None and info.size == 6
    with files.open("docs/README.md") as stream:
        assert stream.read() == b"newer\n"
    path.write_bytes(b"no longer a zip")
    assert files.stat("docs/README.md") is None


@pytest.fixture(scope="module")
def corpus_pairs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Package, Package]]:
    """(folder, zip) pairs of every version of the small generated corpus, by key."""
    base = tmp_path_factory.mktemp("corpus")
    folders = load_folders(
        [str(small_corpus(base / "folders", zipped=False))], require_signatures=False
    )
    zipped = load(small_corpus(base / "zips", zipped=True))
    assert folders.rejects == [] and zipped.rejects == []
    by_key = {package.key: package for package in zipped.packages}
    ordered = sorted(folders.packages, key=lambda package: package.key)
    return [(package, by_key[package.key]) for package in ordered]


@pytest.mark.parametrize("index", range(VERSIONS))
def test_a_zip_gives_the_document_of_the_same_folder(
    corpus_pairs: list[tuple[Package, Package]], index: int
) -> None:
    folder, zipped = corpus_pairs[index]
    assert render_json(zipped.full) == render_json(folder.full)
    assert render_json(zipped.summary) == render_json(folder.summary)
    assert zipped.files is not None and zipped.files.kind == "zip"

"""Symbolic links in package paths: followed only while they stay inside a package.

A linked package or version folder is skipped and a link inside a package that leads out
of it is ignored; each is logged at warning level with its path and the reason, once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from package_registry.loading import load_local_packages

MANIFEST = """\
format_version: 3.0.0
name: {name}
title: T
version: {version}
description: A package.
"""


def package(folder: Path, name: str, version: str) -> Path:
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "README.md").write_text("# Readme\n")
    (folder / "manifest.yml").write_text(MANIFEST.format(name=name, version=version))
    return folder


def load(root: Path) -> tuple[dict[str, object], dict[str, str]]:
    outcome = load_local_packages([str(root)], validate=True, require_signatures=False, workers=1)
    packages = {f"{p.name}-{p.version}": p for source in outcome.sources for p in source}
    return packages, {r.path: r.reason for r in outcome.rejects}


def warnings(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str]]:
    return [
        (r.getMessage(), r.__dict__["file.path"], r.__dict__["error.message"])
        for r in caplog.records
        if r.levelno == logging.WARNING
    ]


def test_linked_package_and_version_folders_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root, elsewhere = tmp_path / "packages", tmp_path / "elsewhere"
    package(root / "real" / "1.0.0", "real", "1.0.0")
    package(elsewhere / "other" / "2.0.0", "other", "2.0.0")
    package(elsewhere / "real" / "3.0.0", "real", "3.0.0")
    os.symlink(elsewhere / "other", root / "other")
    os.symlink(elsewhere / "real" / "3.0.0", root / "real" / "3.0.0")
    with caplog.at_level(logging.WARNING, "package_registry.sources"):
        packages, rejects = load(root)
    assert list(packages) == ["real-1.0.0"] and rejects == {}
    reason = (
        "symbolic links are not followed when discovering packages: a package path must hold"
        " the package folders themselves"
    )
    assert warnings(caplog) == [
        ("ignoring symbolic link to a package folder", str(root / "other"), reason),
        ("ignoring symbolic link to a package version folder", str(root / "real/3.0.0"), reason),
    ]


def test_links_inside_a_package_are_followed_only_while_they_stay_inside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root, secret = tmp_path / "packages", tmp_path / "secret.png"
    secret.write_bytes(b"not for the public")
    folder = package(root / "links" / "1.0.0", "links", "1.0.0")
    (folder / "img").mkdir()
    os.symlink("../docs/README.md", folder / "img" / "alias.md")  # stays inside: followed
    os.symlink(secret, folder / "img" / "leak.png")  # leaves the package: ignored
    os.symlink("../../../../secret.png", folder / "img" / "relative.png")
    with caplog.at_level(logging.WARNING, "package_registry.sources"):
        packages, rejects = load(root)
    assert rejects == {}
    links = packages["links-1.0.0"]
    assert links.full["assets"] == [  # type: ignore[attr-defined]
        "/package/links/1.0.0/manifest.yml",
        "/package/links/1.0.0/docs/README.md",
        "/package/links/1.0.0/img/alias.md",
    ]
    files = links.files  # type: ignore[attr-defined]
    assert files.stat("img/alias.md") is not None
    assert files.stat("img/leak.png") is None and files.stat("img/relative.png") is None
    assert warnings(caplog) == [
        (
            "ignoring symbolic link leading out of the package",
            str(folder / "img" / link),
            f"{target} is outside the package folder {folder}",
        )
        for link, target in (("leak.png", secret), ("relative.png", "../../../../secret.png"))
    ]


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("manifest.yml", "open manifest.yml: symbolic link leads out of the package"),
        (
            "docs/README.md",
            "no readme file found, README.md is required: stat docs/README.md: symbolic link"
            " leads out of the package",
        ),
    ],
)
def test_a_required_file_linked_out_of_the_package_fails_it(
    tmp_path: Path, link: str, reason: str
) -> None:
    root = tmp_path / "packages"
    folder = package(root / "escape" / "1.0.0", "escape", "1.0.0")
    outside = tmp_path / "outside"
    outside.write_text((folder / link).read_text())
    (folder / link).unlink()
    os.symlink(outside, folder / link)
    packages, rejects = load(root)
    assert packages == {}
    assert rejects == {
        str(folder): f"loading package failed (path: {folder}): failed to create package"
        f" from path {folder}: {reason}"
    }

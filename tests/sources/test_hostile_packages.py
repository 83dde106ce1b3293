"""Hostile packages are refused at load with a clear reason; the rest is served.

Zip bombs, oversized manifests and oversized YAML files are generated here (a bomb is a
few kilobytes of deflated zeros), never stored: each must be skipped with a reason that
names the limit and its flag, without inflating more than the limit allows.
"""

from __future__ import annotations

import logging
import os
import struct
import zipfile
from pathlib import Path

import pytest

from package_registry.loading import load_local_packages
from package_registry.packages.errors import ReaderError
from package_registry.packages.limits import DEFAULT_LIMITS, LoadLimits
from package_registry.sources.zips import ZipFiles

MANIFEST = """\
format_version: 3.0.0
name: {name}
title: T
version: 1.0.0
description: A package.
"""
FIELDS = b"""\
- {name: data_stream.type, type: constant_keyword}
- {name: data_stream.dataset, type: constant_keyword}
- {name: data_stream.namespace, type: constant_keyword}
- {name: '@timestamp', type: date}
"""
MiB = 1 << 20


def manifest(name: str, padding: int = 0) -> bytes:
    """A valid manifest, grown to ``padding`` more bytes by a comment of hex digits."""
    text = MANIFEST.format(name=name).encode()
    if padding:
        text += b"# " + os.urandom(padding // 2).hex().encode() + b"\n"
    return text


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def write_folder(path: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


def zip_package(name: str, files: dict[str, bytes] | None = None) -> dict[str, bytes]:
    return {
        f"{name}-1.0.0/manifest.yml": manifest(name),
        f"{name}-1.0.0/docs/README.md": b"# Readme\n",
        **{f"{name}-1.0.0/{path}": data for path, data in (files or {}).items()},
    }


def load(root: Path, limits: LoadLimits = DEFAULT_LIMITS) -> tuple[list[str], dict[str, str]]:
    outcome = load_local_packages(
        [str(root)], validate=True, require_signatures=False, workers=1, limits=limits
    )
    names = sorted(package.name for source in outcome.sources for package in source)
    return names, {Path(r.path).name: r.reason for r in outcome.rejects}


def test_zip_bombs_and_oversized_files_are_skipped_with_a_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "packages"
    write_zip(root / "good-1.0.0.zip", zip_package("good"))
    # 64 MiB of zeros deflate to 64 KiB: the ratio refuses it before anything inflates.
    bomb = zip_package("bomb")
    bomb["bomb-1.0.0/manifest.yml"] = manifest("bomb") + b"#" + bytes(64 * MiB)
    write_zip(root / "bomb-1.0.0.zip", bomb)
    write_zip(root / "asset-1.0.0.zip", zip_package("asset", {"img/zeros.png": bytes(8 * MiB)}))
    write_zip(
        root / "bigmanifest-1.0.0.zip",
        {**zip_package("bigmanifest"), "bigmanifest-1.0.0/manifest.yml": manifest("x", 2 * MiB)},
    )
    write_folder(
        root / "fine" / "1.0.0",
        {"manifest.yml": manifest("fine"), "docs/README.md": b"# Readme\n"},
    )
    with caplog.at_level(logging.ERROR, "package_registry.sources"):
        names, rejects = load(root)
    assert names == ["fine", "good"]
    assert rejects["bomb-1.0.0.zip"].endswith(
        "zip member bomb-1.0.0/manifest.yml inflates 1027 times (65307 bytes to 67108946),"
        " more than the 200 allowed (-package-max-zip-ratio)"
    )
    assert "zip member asset-1.0.0/img/zeros.png inflates" in rejects["asset-1.0.0.zip"]
    assert rejects["bigmanifest-1.0.0.zip"].endswith(
        "read bigmanifest-1.0.0/manifest.yml: file is larger than the 1048576 bytes allowed"
        " (-package-max-manifest-size)"
    )
    skipped = [r for r in caplog.records if r.getMessage() == "invalid package skipped"]
    assert sorted(Path(r.__dict__["file.path"]).name for r in skipped) == sorted(rejects)


def test_folder_files_over_the_yaml_limits_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "packages"
    write_folder(
        root / "bigfolder" / "1.0.0",
        {"manifest.yml": manifest("bigfolder", 2 * MiB), "docs/README.md": b"# Readme\n"},
    )
    write_folder(
        root / "bigfields" / "1.0.0",
        {
            "manifest.yml": manifest("bigfields"),
            "docs/README.md": b"# Readme\n",
            "data_stream/logs/manifest.yml": b"title: Logs\ntype: logs\n",
            "data_stream/logs/fields/base.yml": FIELDS + b"# " + b"x" * (9 * MiB) + b"\n",
        },
    )
    outcome = load_local_packages([str(root)], validate=True, require_signatures=False, workers=1)
    reasons = {Path(r.path).parent.name: r.reason for r in outcome.rejects}
    assert reasons["bigfolder"].endswith(
        "read manifest.yml: file is larger than the 1048576 bytes allowed"
        " (-package-max-manifest-size)"
    )
    assert (
        "read data_stream/logs/fields/base.yml: file is larger than the 8388608 bytes allowed"
        " (-package-max-yaml-size)" in reasons["bigfields"]
    )


def test_limits_are_configurable(tmp_path: Path) -> None:
    root = tmp_path / "packages"
    write_zip(root / "asset-1.0.0.zip", zip_package("asset", {"img/a.png": os.urandom(MiB)}))
    write_folder(
        root / "small" / "1.0.0",
        {"manifest.yml": manifest("small", 4096), "docs/README.md": b"# Readme\n"},
    )
    assert load(root) == (["asset", "small"], {})
    tight = LoadLimits.from_values(manifest=4000, yaml=100, zip_member=MiB - 1, zip_ratio=2)
    names, rejects = load(root, tight)
    assert names == []
    assert (
        "more than the 1048575 allowed (-package-max-zip-member-size)"
        in (rejects["asset-1.0.0.zip"])
    )
    assert "larger than the 4000 bytes allowed" in rejects["1.0.0"]


def test_a_member_lying_about_its_size_is_not_inflated_past_it(tmp_path: Path) -> None:
    """The central directory says 200 bytes; the deflated stream holds 32 MiB of zeros."""
    body = manifest("liar") + b"#" + bytes(32 * MiB)
    archive = write_zip(tmp_path / "liar-1.0.0.zip", {"liar-1.0.0/manifest.yml": body})
    data = bytearray(archive.read_bytes())
    info = zipfile.ZipFile(archive).getinfo("liar-1.0.0/manifest.yml")
    # Rewrite the uncompressed size in the local header and the central directory entry.
    struct.pack_into("<I", data, info.header_offset + 22, 200)
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 200)
    archive.write_bytes(bytes(data))
    files = ZipFiles(str(archive))
    with pytest.raises(ReaderError) as caught:
        files.read("manifest.yml", DEFAULT_LIMITS.manifest)
    assert "Bad CRC-32" in str(caught.value)  # stopped after the 200 declared bytes

"""Loading in forked worker processes gives the same report as loading in-process."""

from __future__ import annotations

import pickle
from pathlib import Path

import orjson
import pytest

from package_registry.loading import load_local_packages
from package_registry.packages.render import render_json
from package_registry.sources import walk

MANIFEST = """\
format_version: 3.0.0
name: {name}
title: T
version: {version}
description: A tiny package.
conditions.kibana.version: "^8.0.0"
vars:
  - name: ratio
    type: text
    default: {default}
"""


def make_corpus(root: Path, count: int) -> None:
    for index in range(count):
        folder = root / f"pkg{index % 7}" / f"1.{index}.0"
        (folder / "docs").mkdir(parents=True)
        (folder / "docs" / "README.md").write_text("# Readme\n")
        default = ["0.000001", "-0.0", "1e300", "2.0"][index % 4]  # floats kept as Fragments
        text = MANIFEST.format(name=f"pkg{index % 7}", version=f"1.{index}.0", default=default)
        (folder / "manifest.yml").write_text(text)
    (root / "broken" / "1.0.0").mkdir(parents=True)
    (root / "broken" / "1.0.0" / "manifest.yml").write_text("name: [\n")


def snapshot(paths: list[str], workers: int) -> list[object]:
    outcome = load_local_packages(paths, validate=True, require_signatures=False, workers=workers)
    packages = [
        (p.key, p.semver, p.kibana, render_json(p.full), render_json(p.summary), p.files.location)
        for source in outcome.sources
        for p in source
    ]
    return [packages, [(r.path, r.reason) for r in outcome.rejects]]


def test_processes_match_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    make_corpus(tmp_path, 30)
    paths = [str(tmp_path)]
    expected = snapshot(paths, 1)
    monkeypatch.setattr(walk, "PROCESS_POOL_MIN_PACKAGES", 2)
    calls: list[int] = []
    original = walk._load_in_processes
    monkeypatch.setattr(
        walk, "_load_in_processes", lambda *args: calls.append(1) or original(*args)
    )
    assert snapshot(paths, 2) == expected
    assert calls, "the process pool was not used"
    assert "worker processes failed" not in caplog.text
    assert len(expected[0]) == 30 and len(expected[1]) == 1


def test_fragments_survive_pickling() -> None:
    import io

    buffer = io.BytesIO()
    walk._Pickler(buffer).dump({"x": orjson.Fragment(b"-0")})
    assert orjson.dumps(pickle.loads(buffer.getvalue())) == b'{"x":-0}'

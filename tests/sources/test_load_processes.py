"""Loading in forked worker processes gives the same report as loading in-process."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import orjson

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


def compare_in_fresh_interpreter(root: str) -> None:
    """Load ``root`` in-process and in worker processes; both reports must be equal.

    Runs in its own interpreter: the loader only forks when no other thread runs, and
    a test session has threads of its own.
    """
    paths = [root]
    expected = snapshot(paths, 1)
    walk.PROCESS_POOL_MIN_PACKAGES = 2
    calls: list[int] = []
    original = walk._load_in_processes
    walk._load_in_processes = lambda *args: calls.append(1) or original(*args)
    assert snapshot(paths, 2) == expected
    assert calls, "the process pool was not used"
    assert len(expected[0]) == 30 and len(expected[1]) == 1


def test_processes_match_in_process(tmp_path: Path) -> None:
    make_corpus(tmp_path, 30)
    script = (
        "from tests.sources.test_load_processes import compare_in_fresh_interpreter as c; "
        f"c({str(tmp_path)!r})"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "worker processes failed" not in result.stderr


def test_fragments_survive_pickling() -> None:
    import io

    buffer = io.BytesIO()
    walk._Pickler(buffer).dump({"x": orjson.Fragment(b"-0")})
    assert orjson.dumps(pickle.loads(buffer.getvalue())) == b'{"x":-0}'

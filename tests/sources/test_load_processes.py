"""Loading in forked worker processes gives the same report as loading in-process.

A worker that dies (killed, or crashing in a parser) must neither hang the load nor lose
the other packages of its chunk: they are retried, and a package that kills its worker
again is rejected with the reason.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from package_registry.loading import load_local_packages
from package_registry.packages.render import render_json
from package_registry.sources import forked, walk

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
    original = walk.load_in_processes
    walk.load_in_processes = lambda *args: calls.append(1) or original(*args)
    assert snapshot(paths, 2) == expected
    assert calls, "the process pool was not used"
    assert len(expected[0]) == 30 and len(expected[1]) == 1


def run_fresh(function: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Call ``function`` of this module with ``args`` in a new interpreter (no threads)."""
    script = f"from tests.sources.test_load_processes import {function} as f; f(*{args!r})"
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_processes_match_in_process(tmp_path: Path) -> None:
    make_corpus(tmp_path, 30)
    result = run_fresh("compare_in_fresh_interpreter", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "worker processes failed" not in result.stderr


def die_while_loading(root: str, victim: str, signal_name: str, once: str) -> None:
    """Load ``root`` in worker processes, one of which dies on the package ``victim``.

    With ``once`` (a marker file) only the first attempt dies, so the retry loads it.
    """
    logging.basicConfig(level=logging.INFO)
    paths = [root]
    expected = snapshot(paths, 1)
    original = walk._load_one

    def load_one(path: str, *args: object) -> object:
        if path.endswith(victim) and not (once and os.path.exists(once)):
            if once:
                Path(once).touch()
            os.kill(os.getpid(), signal.Signals[signal_name])
        return original(path, *args)  # type: ignore[arg-type]

    walk._load_one = load_one  # type: ignore[assignment]
    got = snapshot(paths, 2)
    if once:
        assert got == expected
        return
    packages, rejects = expected
    reason = (
        f"loading package failed (path: {root}/{victim}): the process loading it died"
        f" (killed by {signal_name}), twice"
    )
    assert got[0] == [p for p in packages if not p[-1].endswith(victim)]  # type: ignore[index]
    assert got[1] == [*rejects, (f"{root}/{victim}", reason)]  # type: ignore[misc]


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGSEGV"])
def test_a_package_that_kills_its_loader_is_rejected(tmp_path: Path, signal_name: str) -> None:
    corpus = tmp_path / "corpus"
    make_corpus(corpus, walk.PROCESS_POOL_MIN_PACKAGES + 10)
    result = run_fresh("die_while_loading", str(corpus), "pkg3/1.101.0", signal_name, "")
    assert result.returncode == 0, result.stderr
    assert "package loading process died, retrying each of its packages" in result.stderr
    assert "package loading process died again, package rejected" in result.stderr


def test_a_loader_killed_once_is_retried(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    make_corpus(corpus, walk.PROCESS_POOL_MIN_PACKAGES + 10)
    marker = str(tmp_path / "died-once")
    result = run_fresh("die_while_loading", str(corpus), "pkg3/1.101.0", "SIGKILL", marker)
    assert result.returncode == 0, result.stderr
    assert "package loading process died, retrying each of its packages" in result.stderr
    assert "died again" not in result.stderr
    assert os.path.exists(marker)


def test_fragments_survive_pickling() -> None:
    import io

    buffer = io.BytesIO()
    forked._Pickler(buffer).dump({"x": orjson.Fragment(b"-0")})
    assert orjson.dumps(pickle.loads(buffer.getvalue())) == b'{"x":-0}'

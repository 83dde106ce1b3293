"""The synthetic corpus of ``bench/make_corpus.py``, as fixture packages for tests.

The generator writes valid packages of every type with data streams, policy templates,
conditions, categories, prereleases and zips: the variety the loaders and documents must
handle, made by the project instead of kept as files.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def bench_script(name: str) -> ModuleType:
    """``bench/<name>.py`` loaded as a module (the bench folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make_corpus = bench_script("make_corpus")

#: Versions of the small corpus (24 names; integrations, inputs, content, prereleases).
VERSIONS = 48


def small_corpus(out: Path, *, zipped: bool) -> Path:
    """The small corpus in ``out``: every version a folder, or every version a zip.

    Both forms hold the same packages: the generator draws the same random numbers when
    the zip share is 1 or next to 0.
    """
    make_corpus.generate(
        str(out), packages=24, versions=VERSIONS, seed=6, zip_fraction=1.0 if zipped else 1e-12
    )
    return out

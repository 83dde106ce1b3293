"""The persistent catalog while loading: what is reused, what is loaded again, and when the
file itself is not trusted.

Every test loads real package folders and zips (the synthetic corpus) through
``load_local_packages`` with a real SQLite file, and compares what comes out with a load
that keeps everything in memory.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from package_registry.catalog.build import build_catalog
from package_registry.loading import LoadOutcome, load_local_packages
from package_registry.packages.documents import InlineDocuments, category_closure
from package_registry.packages.render import render_json
from package_registry.packages.store import StoredDocuments, open_store
from package_registry.queries.params import SearchQuery
from package_registry.queries.search import search
from package_registry.sources.reuse import Reuse
from tests.corpus import small_corpus

OPTIONS = (True, False, "limits")


def _load(paths: list[str], reuse: Reuse | None, grace: float = 0.0) -> LoadOutcome:
    return load_local_packages(
        paths, validate=True, require_signatures=False, workers=1, reuse=reuse, grace=grace
    )


def _reuse(directory: Path, paths: list[str]) -> Reuse:
    store = open_store(str(directory), paths, OPTIONS)
    assert store is not None
    return Reuse(store)


def _answers(outcome: LoadOutcome) -> dict[str, bytes]:
    """Every answer a client could see: /search (all versions) and each package document."""
    catalog = build_catalog(outcome.sources)
    out = {"search": search(catalog, SearchQuery(all=True, prerelease=True))}
    for package in catalog.packages():
        out[f"{package.name}/{package.version}"] = package.documents.full_json()
        assert render_json(package.full) == out[f"{package.name}/{package.version}"]
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folders and zips side by side, with one invalid package."""
    root = tmp_path_factory.mktemp("corpus")
    small_corpus(root / "folders", zipped=False)
    small_corpus(root / "zips", zipped=True)
    broken = root / "folders" / "broken" / "1.0.0"
    broken.mkdir(parents=True)
    (broken / "manifest.yml").write_text("name: broken\nversion: [1.0.0\n")
    return root


@pytest.fixture
def paths(corpus: Path, tmp_path: Path) -> list[str]:
    copy = tmp_path / "packages"
    shutil.copytree(corpus, copy, symlinks=True)
    return [str(copy / "folders"), str(copy / "zips")]


def test_a_restart_reuses_every_package_and_answers_the_same(paths, tmp_path):
    memory = _load(paths, None)
    first = _reuse(tmp_path / "catalog", paths)
    loaded = _load(paths, first)
    assert first.reused == 0 and first.loaded_count > 0
    first.store.close()

    again = _reuse(tmp_path / "catalog", paths)
    reused = _load(paths, again)
    assert again.loaded_count == 0
    assert again.reused == first.loaded_count  # the refused package is remembered too
    assert [r.reason for r in reused.rejects] == [r.reason for r in memory.rejects]
    assert reused.rejects
    packages = [p for source in reused.sources for p in source]
    assert packages and all(
        isinstance(p.documents, StoredDocuments) or p.deprecated is not None for p in packages
    )
    assert _answers(reused) == _answers(memory) == _answers(loaded)


def test_only_changed_added_and_removed_packages_are_loaded(paths, tmp_path):
    reuse = _reuse(tmp_path / "catalog", paths)
    _load(paths, reuse)
    total = reuse.loaded_count
    folders = Path(paths[0])
    name = max(
        (p for p in folders.iterdir() if p.is_dir() and p.name != "broken"),
        key=lambda p: len([v for v in p.iterdir() if v.is_dir()]),
    )
    versions = sorted(v for v in name.iterdir() if v.is_dir())
    assert len(versions) >= 3
    changed, removed = versions[0], versions[-1]
    manifest = changed / "manifest.yml"
    manifest.write_text(manifest.read_text().replace("description:", "description: Changed.", 1))
    shutil.rmtree(removed)
    added = name / "99.0.0"
    shutil.copytree(versions[1], added)
    text = (added / "manifest.yml").read_text()
    (added / "manifest.yml").write_text(text.replace(versions[1].name, "99.0.0", 1))

    outcome = _load(paths, reuse)
    assert reuse.loaded_count == 2  # the changed and the added package
    assert reuse.reused == total - 2  # everything else, the removed one gone
    assert _answers(outcome) == _answers(_load(paths, None))


def test_paths_the_watcher_reports_are_loaded_even_when_their_fingerprint_holds(paths, tmp_path):
    reuse = _reuse(tmp_path / "catalog", paths)
    _load(paths, reuse)
    package = sorted(p for p in Path(paths[0]).iterdir() if p.is_dir() and p.name != "broken")[0]
    version = sorted(v for v in package.iterdir() if v.is_dir())[0]
    readme = version / "docs" / "README.md"
    stat = os.stat(version)
    readme.write_text("# Rewritten in place\n")  # the fingerprint does not see this file
    os.utime(version, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    _load(paths, reuse)
    assert reuse.loaded_count == 0
    reuse.changed({str(readme)})
    _load(paths, reuse)
    assert reuse.loaded_count == 1


def test_replaced_rows_stay_readable_until_the_grace_has_passed(paths, tmp_path):
    reuse = _reuse(tmp_path / "catalog", paths)
    before = _load(paths, reuse, grace=0.5)
    old = next(p for p in before.sources[1] if isinstance(p.documents, StoredDocuments))
    document = old.documents.full_json()
    shutil.rmtree(old.files.location)
    _load(paths, reuse, grace=0.5)
    assert old.documents.full_json() == document  # a worker of the old catalog still reads it
    time.sleep(0.6)
    _load(paths, reuse, grace=0.5)
    with pytest.raises(LookupError):
        old.documents.full_json()


def test_a_damaged_catalog_is_rebuilt_with_one_log_line(paths, tmp_path, caplog):
    reuse = _reuse(tmp_path / "catalog", paths)
    _load(paths, reuse)
    path = reuse.store.path
    reuse.store.close()
    with open(path, "r+b") as file:
        file.seek(0)
        file.write(os.urandom(4096))
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    with caplog.at_level(logging.WARNING, logger="package_registry.catalog"):
        again = _reuse(tmp_path / "catalog", paths)
    rebuilt = [r for r in caplog.records if r.getMessage() == "persistent catalog rebuilt"]
    assert len(rebuilt) == 1
    outcome = _load(paths, again)
    assert again.reused == 0
    assert _answers(outcome) == _answers(_load(paths, None))


def test_a_catalog_written_by_another_version_is_rebuilt(paths, tmp_path, caplog):
    reuse = _reuse(tmp_path / "catalog", paths)
    _load(paths, reuse)
    path = reuse.store.path
    reuse.store.close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE meta SET value = '[\"0.0.1\", 1, []]' WHERE key = 'identity'")
    with caplog.at_level(logging.WARNING, logger="package_registry.catalog"):
        again = _reuse(tmp_path / "catalog", paths)
    assert any("0.0.1" in str(getattr(r, "event.reason", "")) for r in caplog.records)
    _load(paths, again)
    assert again.reused == 0


def test_other_loading_options_make_another_catalog(paths, tmp_path):
    first = open_store(str(tmp_path / "catalog"), paths, (True, False, "a"))
    assert first is not None
    Reuse(first)
    first.close()
    with sqlite3.connect(first.path) as connection:
        before = connection.execute("SELECT value FROM meta WHERE key='identity'").fetchone()
    second = open_store(str(tmp_path / "catalog"), paths, (True, True, "a"))
    assert second is not None
    with sqlite3.connect(second.path) as connection:
        after = connection.execute("SELECT value FROM meta WHERE key='identity'").fetchone()
    assert before != after


def test_an_unwritable_location_keeps_the_catalog_in_memory(paths, tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the catalog folder should be")
    with caplog.at_level(logging.WARNING, logger="package_registry.catalog"):
        assert open_store(str(blocker / "catalog"), paths, OPTIONS) is None
    assert "persistent catalog unavailable" in caplog.text


def test_a_catalog_in_use_by_another_registry_is_not_shared(paths, tmp_path, caplog):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from package_registry.packages.store import open_store\n"
            f"store = open_store({str(tmp_path / 'catalog')!r}, {paths!r}, {OPTIONS!r})\n"
            "print('open' if store else 'none', flush=True)\n"
            "time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with caplog.at_level(logging.WARNING, logger="package_registry.catalog"):
            assert open_store(str(tmp_path / "catalog"), paths, OPTIONS) is None
        reasons = [getattr(r, "error.message", "") for r in caplog.records]
        assert "another registry is using it" in reasons
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_a_full_disk_keeps_new_packages_in_memory(paths, tmp_path):
    reuse = _reuse(tmp_path / "catalog", paths)
    connection = sqlite3.connect(reuse.store.path)
    connection.execute("PRAGMA journal_mode=WAL")
    (pages,) = connection.execute("PRAGMA page_count").fetchone()
    connection.close()
    reuse.store._writer.execute(f"PRAGMA max_page_count = {pages}")  # no room to grow
    outcome = _load(paths, reuse)
    assert reuse.store.failed
    packages = [p for source in outcome.sources for p in source]
    assert packages and not any(isinstance(p.documents, StoredDocuments) for p in packages)
    assert _answers(outcome) == _answers(_load(paths, None))


def test_documents_read_back_render_exactly_as_loaded(paths, tmp_path):
    memory = {p.key: p for s in _load(paths, None).sources for p in s}
    reuse = _reuse(tmp_path / "catalog", paths)
    _load(paths, reuse)
    reuse.store.close()
    again = _reuse(tmp_path / "catalog", paths)
    for source in _load(paths, again).sources:
        for package in source:
            loaded = memory[package.key]
            assert isinstance(loaded.documents, InlineDocuments)
            assert package.documents.full_json() == loaded.documents.full_json()
            assert package.documents.fragment() == loaded.documents.fragment()
            assert render_json(package.summary) == render_json(loaded.summary)
            closure = category_closure(package.categories)
            for ref in package.policy_templates:
                for category in set(category_closure(ref.categories or ())) - closure:
                    assert package.documents.pruned(category) == loaded.documents.pruned(category)


def test_a_reload_for_reported_changes_stats_only_what_was_reported(paths, tmp_path):
    """The watcher sees every change while the registry runs: a reload it asked for does
    not stat the other packages again; a reload without reported paths checks them all."""
    reuse = _reuse(tmp_path / "catalog", paths)
    _load(paths, reuse)
    packages = sorted(p for p in Path(paths[0]).iterdir() if p.is_dir() and p.name != "broken")
    unreported = sorted(v for v in packages[0].iterdir() if v.is_dir())[0] / "manifest.yml"
    unreported.write_text(unreported.read_text().replace("description:", "description: U.", 1))
    reported = sorted(v for v in packages[1].iterdir() if v.is_dir())[0] / "docs" / "README.md"
    reported.write_text("# Reported\n")
    reuse.changed({str(reported)})
    _load(paths, reuse)
    assert reuse.loaded_count == 1  # the reported one only
    _load(paths, reuse)  # no reported path: every fingerprint is checked
    assert reuse.loaded_count == 1  # the unreported change is found now

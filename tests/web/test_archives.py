"""Built archives of folder packages: reused across reloads, swept when unreachable,
and the cache folders of killed processes removed at start.

Reloads used to name every archive by catalog generation, so each reload built new
files and none was deleted before shutdown; a killed process left its folder behind.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx

from package_registry.web.archives import PREFIX, ArchiveCache, fingerprint, remove_stale_folders
from tests.conftest import EXAMPLES, RunningRegistry, eventually

WATCH = ["-package-paths-enable-watcher", "-require-package-signatures=false"]
ZIP = "/epr/sample_logs/sample_logs-1.1.0.zip"


def _package(tmp_path: Path) -> Path:
    folder = tmp_path / "pkg"
    (folder / "docs").mkdir(parents=True)
    (folder / "manifest.yml").write_text("name: pkg\n")
    (folder / "docs" / "README.md").write_text("# pkg\n")
    return folder


def _get(cache: ArchiveCache, generation: int, folder: Path, builds: list[str]) -> str:
    def build(out) -> None:  # type: ignore[no-untyped-def]
        builds.append(str(folder))
        out.write(b"archive of " + (folder / "docs" / "README.md").read_bytes())

    return asyncio.run(cache.get(generation, str(folder), ".zip", build))


def test_fingerprint_follows_names_sizes_and_times(tmp_path):
    folder = _package(tmp_path)
    first = fingerprint(str(folder))
    assert fingerprint(str(folder)) == first
    (folder / "docs" / "README.md").write_text("# pkg, changed\n")
    assert fingerprint(str(folder)) != first
    second = fingerprint(str(folder))
    (folder / "docs" / "extra.md").write_text("")
    assert fingerprint(str(folder)) != second


def test_a_zip_package_is_fingerprinted_by_its_file(tmp_path):
    package = tmp_path / "pkg-1.0.0.zip"
    package.write_bytes(b"PK one")
    first = fingerprint(str(package))
    cache = ArchiveCache(str(tmp_path / "cache"))
    path = asyncio.run(cache.get(1, str(package), ".tar.gz", lambda out: out.write(b"tar")))
    assert cache.unreachable([str(package)]) == set()
    package.write_bytes(b"PK two, longer")
    assert fingerprint(str(package)) != first
    assert cache.unreachable([str(package)]) == {os.path.basename(path)}


def test_unchanged_folder_reuses_its_archive_across_generations(tmp_path):
    folder = _package(tmp_path)
    cache = ArchiveCache(str(tmp_path / "cache"))
    builds: list[str] = []
    first = _get(cache, 1, folder, builds)
    assert _get(cache, 2, folder, builds) == first
    assert _get(cache, 3, folder, builds) == first
    assert len(builds) == 1


def test_changed_and_removed_folders_are_swept_after_the_grace(tmp_path):
    folder, other = _package(tmp_path), tmp_path / "other"
    shutil.copytree(folder, other)
    cache = ArchiveCache(str(tmp_path / "cache"), grace=0.2)
    builds: list[str] = []
    old = _get(cache, 1, folder, builds)
    gone = _get(cache, 1, other, builds)
    (folder / "docs" / "README.md").write_text("# pkg, version 2\n")
    shutil.rmtree(other)
    new = _get(cache, 2, folder, builds)
    assert new != old
    assert cache.unreachable([str(folder)]) == {os.path.basename(old), os.path.basename(gone)}
    cache.sweep(lambda: [str(folder)])
    assert os.path.exists(old)  # not before the grace: an old worker may still open it
    eventually(lambda: sorted(os.listdir(cache.directory)) == [os.path.basename(new)], 5)


def test_a_cache_folder_removed_under_the_process_is_made_again(tmp_path):
    folder = _package(tmp_path)
    cache = ArchiveCache(str(tmp_path / "cache"))
    shutil.rmtree(cache.directory)
    assert os.path.exists(_get(cache, 1, folder, []))


def test_an_archive_reachable_again_by_deletion_time_is_kept(tmp_path):
    folder = _package(tmp_path)
    cache = ArchiveCache(str(tmp_path / "cache"), grace=0.1)
    path = _get(cache, 1, folder, [])
    cache.sweep(lambda: [])  # unreachable now ...
    cache._delete({os.path.basename(path)}, lambda: [str(folder)])  # ... not when it fires
    assert os.path.exists(path)


def test_folders_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{PREFIX}{dead.pid}"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "a.zip").write_bytes(b"x")
    alive = tmp_path / f"{PREFIX}{os.getppid()}"
    alive.mkdir()
    unrelated = tmp_path / f"{PREFIX}abc"
    unrelated.mkdir()
    assert remove_stale_folders(str(tmp_path)) == [str(stale)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, unrelated.name])


def _archives(tmp: Path, server: RunningRegistry) -> list[str]:
    return sorted(os.listdir(tmp / f"{PREFIX}{server.process.pid}"))


def _readme(server: RunningRegistry) -> bytes | None:
    """The README inside the downloaded zip (``None`` for a connection a worker being
    replaced dropped: zero dropped requests across reloads is tested elsewhere)."""
    try:
        response = server.get(ZIP)
    except httpx.TransportError:
        return None
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return archive.read("sample_logs-1.1.0/docs/README.md")


def test_reloads_reuse_archives_and_keep_the_cache_flat(registry, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    packages = tmp_path / "packages"
    shutil.copytree(EXAMPLES / "sample_logs", packages / "sample_logs")
    server = registry(
        package_paths=[packages],
        flags=[*WATCH, "-workers=2", "-shutdown-timeout=5s"],  # grace: max(10 s, 5 s)
        env={"TMPDIR": str(temp)},
    )
    readme = packages / "sample_logs" / "1.1.0" / "docs" / "README.md"
    original = readme.read_bytes()
    assert _readme(server) == original
    built = _archives(temp, server)
    assert len(built) == 1

    # A reload that leaves the package as it was reuses its archive.
    shutil.copytree(EXAMPLES / "sample_input", packages / "sample_input")
    eventually(lambda: server.get("/package/sample_input/0.2.0/").status_code == 200)
    eventually(lambda: all(_readme(server) == original for _ in range(4)))
    assert _archives(temp, server) == built

    # Changes make new archives; the ones no catalog can ask for go after the grace.
    for n in range(4):
        text = original + b"\nchange %d\n" % n
        readme.write_bytes(text)
        eventually(lambda text=text: all(_readme(server) == text for _ in range(4)))
    assert 1 < len(_archives(temp, server)) <= 5
    eventually(lambda: len(_archives(temp, server)) == 1, timeout=30)
    assert _readme(server) == text


def test_the_folder_of_a_killed_registry_is_removed_at_start(registry, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    packages = tmp_path / "packages"
    shutil.copytree(EXAMPLES / "sample_logs", packages / "sample_logs")
    flags = ["-require-package-signatures=false", "-workers=1"]
    first = registry(package_paths=[packages], flags=flags, env={"TMPDIR": str(temp)})
    assert first.get(ZIP).status_code == 200
    left = temp / f"{PREFIX}{first.process.pid}"
    assert left.is_dir()
    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait(5)
    assert left.is_dir()  # nothing could clean up

    second = registry(package_paths=[packages], flags=flags, env={"TMPDIR": str(temp)})
    assert not left.exists()
    assert second.get(ZIP).status_code == 200
    assert [p.name for p in temp.iterdir() if p.name.startswith(PREFIX)] == [
        f"{PREFIX}{second.process.pid}"
    ]

"""``-package-paths-enable-watcher`` against real registry processes.

Packages are added to, broken in and removed from a package path while the registry
serves; each change must show in ``/search`` once the watcher's quiet second has passed,
with one worker (the catalog swapped where it serves) and with two (workers replaced by
ones forked from the reloaded parent).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time

import pytest

from package_registry.sources.watcher import PackagePathWatcher
from tests.conftest import EXAMPLES, EXECUTABLE, RunningRegistry, eventually

WATCH = ["-package-paths-enable-watcher", "-require-package-signatures=false"]


def names(server: RunningRegistry) -> set[str]:
    response = server.get("/search?all=true")
    assert response.status_code == 200
    return {package["name"] for package in response.json()}


def logged(server: RunningRegistry, message: str) -> bool:
    return any(line.get("message") == message for line in server.logs())


@pytest.mark.parametrize("workers", [1, 2])
def test_added_and_removed_packages_are_served(registry, tmp_path, workers):
    packages = tmp_path / "packages"
    packages.mkdir()
    shutil.copytree(EXAMPLES / "sample_logs", packages / "sample_logs")
    server = registry(package_paths=[packages], flags=[*WATCH, f"-workers={workers}"])
    assert names(server) == {"sample_logs"}

    shutil.copytree(EXAMPLES / "sample_input", packages / "sample_input")
    # Every worker comes to serve the new catalog: ten answers in a row agree. (With
    # several workers, the old ones may answer for a moment after the first new one.)
    both = {"sample_logs", "sample_input"}
    eventually(lambda: all(names(server) == both for _ in range(10)))
    assert logged(server, "package filesystem index updated")

    shutil.rmtree(packages / "sample_logs")
    eventually(lambda: names(server) == {"sample_input"})
    assert server.get("/package/sample_logs/1.1.0/").status_code == 404


def test_new_version_inside_a_package_folder_is_noticed(registry, tmp_path):
    packages = tmp_path / "packages"
    shutil.copytree(EXAMPLES / "sample_input", packages / "sample_input")
    server = registry(package_paths=[packages], flags=[*WATCH, "-workers=1"])
    version = "0.2.0"
    new = packages / "sample_input" / "9.9.9"
    shutil.copytree(packages / "sample_input" / version, new)
    manifest = new / "manifest.yml"
    manifest.write_text(manifest.read_text().replace(f"version: {version}", "version: 9.9.9"))
    eventually(lambda: server.get("/package/sample_input/9.9.9/").status_code == 200)


def test_invalid_package_is_skipped_and_the_rest_still_reloaded(registry, tmp_path):
    packages = tmp_path / "packages"
    shutil.copytree(EXAMPLES / "sample_logs", packages / "sample_logs")
    server = registry(package_paths=[packages], flags=[*WATCH, "-workers=1"])
    broken = packages / "broken" / "1.0.0"
    broken.mkdir(parents=True)
    (broken / "manifest.yml").write_text("name: broken\nversion: [not, a, version\n")
    shutil.copytree(EXAMPLES / "sample_input", packages / "sample_input")
    eventually(lambda: names(server) == {"sample_logs", "sample_input"})


def test_strict_loading_keeps_the_last_good_catalog(registry, tmp_path):
    packages = tmp_path / "packages"
    shutil.copytree(EXAMPLES / "sample_logs", packages / "sample_logs")
    server = registry(
        package_paths=[packages], flags=[*WATCH, "-workers=1", "-strict-package-loading"]
    )
    broken = packages / "broken" / "1.0.0"
    broken.mkdir(parents=True)
    (broken / "manifest.yml").write_text("name: broken\n")
    shutil.copytree(EXAMPLES / "sample_input", packages / "sample_input")
    eventually(lambda: logged(server, "updating package filesystem index failed"))
    assert names(server) == {"sample_logs"}


def test_start_with_no_packages_then_serve_what_arrives(registry, tmp_path):
    packages = tmp_path / "packages"
    packages.mkdir()
    server = registry(package_paths=[packages], flags=[*WATCH, "-workers=2"])
    assert logged(
        server,
        "No packages found at startup. The registry is running but no content is available yet.",
    )
    assert names(server) == set()
    shutil.copytree(EXAMPLES / "sample_input", packages / "sample_input")
    eventually(lambda: names(server) == {"sample_input"})


def test_watcher_needs_package_paths(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text("package_paths: []\n")
    result = subprocess.run(
        [EXECUTABLE, f"-config={config}", "-package-paths-enable-watcher"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "no package paths configured, cannot enable watcher" in result.stderr


def test_changes_settle_before_one_call(tmp_path):
    """A burst of changes gives one call, after the quiet time."""
    calls: list[float] = []
    seen: list[set[str]] = []
    called = threading.Event()

    def on_change(paths: set[str]) -> None:
        calls.append(time.monotonic())
        seen.append(paths)
        called.set()

    watcher = PackagePathWatcher([str(tmp_path)], on_change, quiet_ms=300)
    watcher.start()
    try:
        time.sleep(0.3)  # the watch is set up
        for n in range(5):
            (tmp_path / f"file{n}").write_text("x")
            time.sleep(0.05)
        last = time.monotonic()
        assert called.wait(10)
        time.sleep(0.6)
    finally:
        watcher.stop()
    assert len(calls) == 1
    assert calls[0] - last >= 0.25
    assert {str(tmp_path / f"file{n}") for n in range(5)} <= seen[0]


def test_missing_path_is_not_watched(tmp_path):
    watcher = PackagePathWatcher([str(tmp_path / "missing"), str(tmp_path)], lambda _: None)
    assert watcher.paths == [str(tmp_path)]

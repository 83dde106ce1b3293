"""The persistent catalog seen from clients: same answers, restarts without parsing, and
reloads that never show half of an update.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import httpx

from tests.conftest import RunningRegistry, eventually, stop
from tests.corpus import small_corpus

FLAGS = ["-workers=2", "-require-package-signatures=false"]


def _answers(server: RunningRegistry) -> dict[str, bytes]:
    """Every answer of the catalog: /search with all versions, /categories and each package
    document."""
    out = {}
    for route in (
        "/search?all=true&prerelease=true",
        "/search?category=security",
        "/search?kibana.version=8.10.0",
        "/categories?include_policy_templates=true",
    ):
        out[route] = server.get(route).content
    for item in json.loads(out["/search?all=true&prerelease=true"]):
        route = f"/package/{item['name']}/{item['version']}/"
        response = server.get(route)
        assert response.status_code == 200
        out[route] = response.content
    return out


def _reused(server: RunningRegistry) -> list[str]:
    return [
        str(line.get("message"))
        for line in server.logs()
        if str(line.get("message", "")).startswith("persistent catalog:")
    ]


def test_a_restart_answers_like_a_catalog_in_memory_without_loading(registry, tmp_path):
    packages = tmp_path / "packages"
    small_corpus(packages, zipped=False)
    catalog = tmp_path / "catalog"
    memory = registry(package_paths=[packages], flags=[*FLAGS, "-catalog-path=:memory:"])
    expected = _answers(memory)
    assert len(expected) > 20

    first = registry(package_paths=[packages], flags=[*FLAGS, f"-catalog-path={catalog}"])
    assert _answers(first) == expected
    stop(first)
    assert list(catalog.glob("catalog-*.sqlite"))

    again = registry(package_paths=[packages], flags=[*FLAGS, f"-catalog-path={catalog}"])
    assert _answers(again) == expected
    assert any(message.endswith(", 0 loaded") for message in _reused(again))


def test_a_reload_replaces_a_package_without_a_reader_seeing_half_of_it(registry, tmp_path):
    packages = tmp_path / "packages"
    small_corpus(packages, zipped=False)
    server = registry(
        package_paths=[packages],
        flags=[*FLAGS, "-package-paths-enable-watcher", f"-catalog-path={tmp_path / 'catalog'}"],
    )
    item = json.loads(server.get("/search").content)[0]
    route = f"/package/{item['name']}/{item['version']}/"
    folder = packages / item["name"] / item["version"]
    manifest = folder / "manifest.yml"
    original = manifest.read_text()
    seen: set[str] = set()
    failures: list[str] = []
    done = threading.Event()

    def read() -> None:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            while not done.is_set():
                response = client.get(route)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:80]}")
                    continue
                seen.add(response.json()["description"])

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for n in range(3):
            staged = folder.parent / f".staged-{n}"
            shutil.copytree(folder, staged)
            (staged / "manifest.yml").write_text(
                original.replace("description:", f"description: Edition {n}.", 1)
            )
            shutil.rmtree(folder)
            staged.rename(folder)
            eventually(lambda n=n: any(d.startswith(f"Edition {n}.") for d in seen), timeout=30)
    finally:
        done.set()
        for reader in readers:
            reader.join()
    assert failures == []
    assert {d.split(".")[0] for d in seen if d.startswith("Edition")} == {
        "Edition 0",
        "Edition 1",
        "Edition 2",
    }
    reloads = _reused(server)
    assert reloads[-1].endswith(", 1 loaded")


def test_the_catalog_can_be_kept_in_memory_only(registry, tmp_path):
    packages = tmp_path / "packages"
    small_corpus(packages, zipped=True)
    catalog = tmp_path / "catalog"
    server = registry(package_paths=[packages], flags=[*FLAGS, "-catalog-path=:memory:"])
    assert server.get("/search").status_code == 200
    assert not catalog.exists()
    assert _reused(server) == []


def test_catalog_path_from_config_file(registry, tmp_path):
    packages = tmp_path / "packages"
    small_corpus(packages, zipped=True)
    catalog = tmp_path / "from-config"
    server = registry(
        package_paths=[packages],
        flags=FLAGS,
        config_extra=f"catalog_path: {catalog}\n",
        env={"EPR_CATALOG_PATH": ""},  # unset (the suite may run with it set)
    )
    assert server.get("/search").status_code == 200
    assert list(Path(catalog).glob("catalog-*.sqlite"))

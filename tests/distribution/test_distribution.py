"""``package-registry-distribution``: its configuration, its URLs, and whole runs against
a real registry serving the signed example packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from package_registry.distribution.config import (
    Action,
    DistributionConfig,
    DistributionConfigError,
    Pinned,
    parse_config,
)
from package_registry.distribution.run import search_urls
from tests.conftest import EXAMPLES

TOOL = str(Path(sys.executable).parent / "package-registry-distribution")
KEY = EXAMPLES / "KEYS.asc"
EXAMPLE_FILES = sorted(
    [f"{name}.zip" for name in ("sample_input-0.2.0", "sample_logs-1.0.0", "sample_logs-1.1.0")]
    + [f"{name}.zip" for name in ("sample_logs-1.2.0-beta1", "sample_metrics-1.0.0")]
)


def run_tool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TOOL, *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "distribution.yml"
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- configuration


def test_configuration_is_read_as_text():
    config = parse_config(
        """
matrix:
  - kibana.version: 8.16.0
    spec.max: 3.10
queries:
  - package: apache
    all: true
    prerelease: false
packages:
  - name: apache
    version: 2.1.0
actions:
  - print:
  - download:
      destination: ./build
      address: http://mirror
unknown: ignored
"""
    )
    assert config == DistributionConfig(
        address="https://epr.elastic.co",
        matrix=[{"kibana.version": "8.16.0", "spec.max": "3.10"}],
        queries=[{"package": "apache", "all": "true"}],
        packages=[Pinned("apache", "2.1.0")],
        actions=[Action("print"), Action("download", "./build", "http://mirror")],
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("actions:\n  - upload:\n", "unknown action upload"),
        ("actions:\n  - print:\n    download:\n", "multiple entries found in action"),
        ("queries:\n  - all: maybe\n", "expected true or false"),
        ("queries: nope\n", "queries: expected a list"),
        ("- a\n", "must be a mapping"),
        ("address: [\n", "flow"),
    ],
)
def test_invalid_configuration(text, message):
    with pytest.raises(DistributionConfigError, match=message):
        parse_config(text)


def test_search_urls_cross_matrix_and_queries_with_sorted_keys():
    config = DistributionConfig(
        address="http://registry:8080/",
        matrix=[{"kibana.version": "7.19.0", "prerelease": "true"}, {"kibana.version": "8.0.0"}],
        queries=[{}, {"package": "a b", "kibana.version": "9.0.0"}],
    )
    assert search_urls(config) == [
        "http://registry:8080/search?kibana.version=7.19.0&prerelease=true",
        "http://registry:8080/search?kibana.version=9.0.0&package=a+b&prerelease=true",
        "http://registry:8080/search?kibana.version=8.0.0",
        "http://registry:8080/search?kibana.version=9.0.0&package=a+b",
    ]
    assert search_urls(DistributionConfig(address="http://r", queries=[{}])) == ["http://r/search"]


# ----------------------------------------------------------------------------- whole runs


@pytest.fixture
def upstream(registry):
    return registry(flags=["-workers=1"])


def test_download_verify_skip_and_serve_again(upstream, registry, tmp_path):
    config = write(
        tmp_path,
        f"""
address: {upstream.base_url}
public_key: {KEY}
matrix:
  - kibana.version: 8.15.0
queries:
  - prerelease: true
  - package: sample_logs
    all: true
packages:
  - name: sample_logs
    version: 1.0.0
actions:
  - print:
  - download:
      destination: ./out
""",
    )
    first = run_tool(str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    search = f"{upstream.base_url}/search?kibana.version=8.15.0&prerelease=true"
    assert lines[0] == f"{search} 3 packages"
    assert lines[-6:] == [
        "-  sample_input 0.2.0",
        "-  sample_logs 1.0.0",
        "-  sample_logs 1.1.0",
        "-  sample_logs 1.2.0-beta1",
        "-  sample_metrics 1.0.0",
        "5 packages total",
    ]
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*EXAMPLE_FILES, *(f + ".sig" for f in EXAMPLE_FILES)]
    )
    assert (out / "sample_metrics-1.0.0.zip").read_bytes() == (
        EXAMPLES / "sample_metrics-1.0.0.zip"
    ).read_bytes()

    # Present and valid: not fetched again.
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert run_tool(str(config), cwd=tmp_path).returncode == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps

    # A damaged file is fetched again.
    damaged = out / "sample_logs-1.1.0.zip"
    damaged.write_bytes(b"not the package")
    again = run_tool(str(config), cwd=tmp_path)
    assert again.returncode == 0
    assert "existing file invalid for /epr/sample_logs/sample_logs-1.1.0.zip" in again.stderr
    assert damaged.read_bytes()[:2] == b"PK"

    # The folder is a package path: an air-gapped registry serves it, signatures and all.
    mirror = registry(package_paths=[out], flags=["-workers=1"])
    found = {(p["name"], p["version"]) for p in mirror.get("/search?all=true").json()}
    assert ("sample_logs", "1.1.0") in found and ("sample_metrics", "1.0.0") in found
    assert mirror.get("/epr/sample_logs/sample_logs-1.1.0.zip.sig").status_code == 200


def test_signatures_by_another_key_are_refused_and_removed(upstream, tmp_path):
    """Without ``public_key`` the Elastic key is used; the examples are not signed by it."""
    config = write(
        tmp_path,
        f"""
address: {upstream.base_url}
queries:
  - package: sample_input
actions:
  - download:
      destination: ./out
""",
    )
    done = run_tool(str(config), cwd=tmp_path)
    assert done.returncode == 255
    assert done.stdout.splitlines()[1].startswith(
        "signature verification failed for /epr/sample_input/sample_input-0.2.0.zip: "
    )
    assert list((tmp_path / "out").iterdir()) == []


def test_missing_pinned_package(upstream, tmp_path):
    config = write(
        tmp_path,
        f"""
address: {upstream.base_url}
public_key: {KEY}
packages:
  - name: nothing
    version: 1.0.0
actions:
  - download:
      destination: ./out
""",
    )
    done = run_tool(str(config), cwd=tmp_path)
    assert done.returncode == 255
    assert done.stdout.strip() == (
        "failed to download package epr/nothing/nothing-1.0.0.zip: "
        "failed to get epr/nothing/nothing-1.0.0.zip (status code 404)"
    )


def test_failed_search(upstream, tmp_path):
    config = write(
        tmp_path, f"address: {upstream.base_url}\nqueries:\n  - kibana.version: nonsense\n"
    )
    done = run_tool(str(config), cwd=tmp_path)
    assert done.returncode == 255
    assert done.stdout.strip() == (
        f"failed to collect packages: failed to GET {upstream.base_url}/search?"
        "kibana.version=nonsense (status code 400)"
    )


def test_usage_and_unreadable_configuration(tmp_path):
    usage = run_tool(cwd=tmp_path)
    assert (usage.returncode, usage.stdout) == (255, f"{TOOL} [config.yaml]\n")
    missing = run_tool("missing.yml", cwd=tmp_path)
    assert missing.returncode == 255
    assert missing.stdout.startswith("failed to read configuration from missing.yml: ")
    bad = run_tool(str(write(tmp_path, "actions:\n  - upload:\n")), cwd=tmp_path)
    assert bad.returncode == 255
    assert bad.stdout.endswith("unknown action upload\n")


@pytest.mark.skipif(shutil.which("gpgv") is None, reason="gpgv is not installed")
def test_elastic_key_is_shipped(tmp_path):
    from package_registry.distribution.signatures import ELASTIC_KEY

    shown = subprocess.run(
        ["gpg", "--show-keys", "--with-colons"],
        input=ELASTIC_KEY.read_bytes(),
        capture_output=True,
        check=True,
        env={**os.environ, "GNUPGHOME": str(tmp_path)},
    )
    assert b"46095ACC8548582C1A2699A9D27D666CD88E42B4" in shown.stdout

"""The command line as an operator meets it: version, bad settings, dry runs, start-up."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from package_registry import __version__
from tests.conftest import EXAMPLES, EXECUTABLE, stop, write_config

BAD_PACKAGES = Path(__file__).parent / "data" / "bad-packages"


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [EXECUTABLE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def mixed_packages(tmp_path: Path) -> Path:
    """The examples plus one invalid package (no README) in one package path."""
    root = tmp_path / "packages"
    shutil.copytree(EXAMPLES, root)
    shutil.copytree(BAD_PACKAGES / "missing_readme" / "missing_readme", root / "missing_readme")
    return root


def test_version_prints_and_exits_zero(tmp_path):
    result = run(["-version"], tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"Elastic Package Registry version {__version__}\n"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["-package-paths-workers=abc"], "-package-paths-workers", id="bad-int"),
        pytest.param(["-dry-run=maybe"], "-dry-run", id="bad-bool"),
        pytest.param(
            ["-no-such-flag"], "flag provided but not defined: -no-such-flag", id="unknown"
        ),
        pytest.param(["-workers=0"], "workers must be greater than 0", id="zero-workers"),
    ],
)
def test_bad_flag_is_one_line_and_status_2(tmp_path, args, fragment):
    result = run(args, tmp_path)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_missing_config_file_is_reported(tmp_path):
    result = run(["-config=nowhere.yml"], tmp_path)
    assert result.returncode == 2
    assert "Configuration file is not available: nowhere.yml" in result.stderr


def test_dry_run_lists_invalid_packages_and_fails(tmp_path):
    config = write_config(tmp_path, [mixed_packages(tmp_path)])
    result = run([f"-config={config}", "-dry-run", "-log-type=dev"], tmp_path)
    assert result.returncode == 1
    assert "no readme file found, README.md is required" in result.stderr
    assert "6 packages loaded, 1 invalid" in result.stderr


def test_dry_run_with_valid_packages_succeeds(tmp_path):
    config = write_config(tmp_path, [EXAMPLES])
    result = run([f"-config={config}", "-dry-run"], tmp_path)
    assert result.returncode == 0, result.stderr


def test_package_size_limits_are_flags(tmp_path):
    config = write_config(tmp_path, [EXAMPLES])
    result = run(
        [f"-config={config}", "-dry-run", "-log-type=dev", "-package-max-manifest-size=100"],
        tmp_path,
    )
    assert result.returncode == 1
    assert "file is larger than the 100 bytes allowed (-package-max-manifest-size)" in (
        result.stderr
    )


def test_strict_loading_aborts_on_an_invalid_package(tmp_path):
    config = write_config(tmp_path, [mixed_packages(tmp_path)])
    result = run([f"-config={config}", "-strict-package-loading"], tmp_path)
    assert result.returncode == 1
    assert "Init failed" in result.stderr


def test_invalid_package_is_skipped_logged_once_and_the_rest_served(registry, tmp_path):
    server = registry(package_paths=[mixed_packages(tmp_path)])
    names = {p["name"] for p in server.get("/search").json()}
    assert "sample_logs" in names
    assert server.get("/package/missing_readme/1.0.0/").status_code == 404
    skipped = [line for line in server.logs() if line.get("message") == "invalid package skipped"]
    assert len(skipped) == 1
    assert "missing_readme" in str(skipped[0])


def test_unsigned_package_is_refused_by_default(registry, tmp_path):
    root = tmp_path / "unsigned"
    shutil.copytree(EXAMPLES / "sample_input", root / "sample_input")
    shutil.copytree(EXAMPLES / "sample_logs", root / "sample_logs")
    (root / "sample_input" / "0.2.0.sig").unlink()
    server = registry(package_paths=[root])
    names = {p["name"] for p in server.get("/search").json()}
    assert names == {"sample_logs"}
    relaxed = registry(package_paths=[root], flags=["-require-package-signatures=false"])
    assert {p["name"] for p in relaxed.get("/search").json()} == {"sample_logs", "sample_input"}


def test_no_packages_at_all_is_fatal(tmp_path):
    config = write_config(tmp_path, [tmp_path / "empty"])
    result = run([f"-config={config}", "-address=127.0.0.1:0"], tmp_path)
    assert result.returncode == 1
    assert "No local packages found." in result.stderr


def test_flag_beats_environment_variable(registry):
    server = registry(
        flags=["-allow-unknown-query-parameters=true"],
        env={"EPR_ALLOW_UNKNOWN_QUERY_PARAMETERS": "false"},
    )
    assert server.get("/search?foo=bar").status_code == 200


def test_environment_variable_sets_a_flag(registry):
    server = registry(env={"EPR_ALLOW_UNKNOWN_QUERY_PARAMETERS": "false"})
    r = server.get("/search?foo=bar")
    assert (r.status_code, r.text) == (400, 'unknown query parameter: "foo"\n')


def test_cache_times_come_from_config(registry):
    server = registry(config_extra="cache_time.search: 1m30s\ncache_time.index: 1s\n")
    assert server.get("/search").headers.get_list("cache-control") == ["max-age=90", "public"]
    assert server.get("/").headers.get_list("cache-control") == ["max-age=1", "public"]


def test_several_workers_serve_and_stop_gracefully_on_sigterm(registry):
    server = registry(flags=["-workers=2"])
    for _ in range(20):
        assert server.get("/search").status_code == 200
    assert stop(server) == 0


def test_sigint_also_stops_with_status_zero(registry):
    server = registry(flags=["-workers=1"])
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(10) == 0


def test_request_log_lines_follow_ecs(registry):
    server = registry(flags=["-workers=1"])
    server.get("/search?package=sample_input", headers={"User-Agent": "tests"})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line for line in server.logs() if line.get("log", {}).get("logger") == "http"]
        if lines:
            break
        time.sleep(0.05)
    assert lines, server.log_lines[-5:]
    line = lines[-1]
    assert line["message"] == "GET /search HTTP/1.1"
    assert line["http"]["response"]["code"] == 200
    assert line["url"]["query"] == "package=sample_input"
    assert line["user_agent"]["original"] == "tests"
    assert line["service"]["name"] == "package-registry"
    assert "ecs.version" in line


def test_tls_serves_https_with_minimum_version(registry, tls_files):
    cert, key = tls_files
    server = registry(flags=[f"-tls-cert={cert}", f"-tls-key={key}", "-tls-min-version=1.3"])
    assert server.base_url.startswith("https://")
    assert httpx.get(server.url("/health"), verify=False).status_code == 200
    old = ssl.create_default_context()
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url("/health"), verify=old)


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"AWS_PROFILE": "nowhere"}, "The config profile (nowhere) could not be found"),
        ({"AWS_ENDPOINT_URL": "not-a-url"}, "Invalid endpoint: not-a-url"),
    ],
)
def test_an_unusable_s3_client_stops_start_up(tmp_path, env, error):
    config = write_config(tmp_path, [EXAMPLES])
    missing = str(tmp_path / "missing")
    env = {**os.environ, "AWS_CONFIG_FILE": missing, "AWS_SHARED_CREDENTIALS_FILE": missing, **env}
    flags = ["-feature-storage-indexer", "-storage-indexer-bucket-internal=s3://bucket/root"]
    result = run([f"-config={config}", *flags], tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    assert "Init failed" in result.stderr
    assert error in result.stderr
    assert "Traceback" not in result.stderr

"""``package-registry -health-check``, the container health check, against real servers; and
what a serving registry leaves unimported (the clients of features that are off)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from package_registry.health_check import loopback_target
from tests.conftest import EXECUTABLE, free_port, stop


def health_check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [EXECUTABLE, "-health-check", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def address_of(base_url: str) -> str:
    return base_url.split("://", 1)[1]


@pytest.mark.parametrize(
    ("address", "target"),
    [
        ("0.0.0.0:8080", ("127.0.0.1", 8080)),
        (":8080", ("127.0.0.1", 8080)),
        ("[::]:8080", ("::1", 8080)),
        ("[::1]:9000", ("::1", 9000)),
        ("localhost:8080", ("localhost", 8080)),
        ("10.1.2.3:80", ("10.1.2.3", 80)),
    ],
)
def test_a_listener_on_every_interface_is_probed_over_loopback(address, target):
    assert loopback_target(address) == target


@pytest.mark.parametrize("address", ["localhost", "localhost:http", "localhost:99999"])
def test_an_unusable_address_is_an_error(address):
    with pytest.raises(ValueError):
        loopback_target(address)


def test_a_serving_registry_is_healthy(registry, tmp_path):
    server = registry(flags=["-workers=1"])
    result = health_check(f"-address={address_of(server.base_url)}")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_address_comes_from_the_environment_too(registry):
    server = registry(flags=["-workers=1"])
    result = health_check(env={"EPR_ADDRESS": address_of(server.base_url)})
    assert result.returncode == 0


def test_nothing_listening_is_unhealthy():
    result = health_check(f"-address=127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert result.stderr.startswith("health check: 127.0.0.1:")


def test_a_tls_registry_is_probed_over_tls(registry, tls_files):
    cert, key = tls_files
    tls = [f"-tls-cert={cert}", f"-tls-key={key}"]
    server = registry(flags=["-workers=1", *tls])
    address = f"-address={address_of(server.base_url)}"
    assert health_check(address, *tls).returncode == 0
    # Plain HTTP to a TLS listener does not get a 200.
    assert health_check(address).returncode == 1


def test_an_empty_watched_folder_serves_and_is_healthy(registry, tmp_path: Path):
    empty = tmp_path / "packages"
    empty.mkdir()
    server = registry(package_paths=[empty], flags=["-package-paths-enable-watcher"])
    assert server.get("/search").json() == []
    assert health_check(f"-address={address_of(server.base_url)}").returncode == 0


# Clients of features that are off must stay out of a serving process: they cost start-up
# time and memory in every container. (watchfiles is not listed: uvicorn imports it whenever
# it is installed.)
OPTIONAL_CLIENTS = re.compile(
    r"\|\s+(google\.cloud|boto3|botocore|elasticapm|httpx|rich|pygments)(\.|\s*$)"
)


def test_a_plain_folder_registry_imports_no_optional_client(registry):
    server = registry(flags=["-workers=1"], env={"PYTHONPROFILEIMPORTTIME": "1"})
    for path in ("/search", "/categories", "/package/sample_logs/1.1.0/", "/health"):
        assert server.get(path).status_code == 200
    assert stop(server) == 0
    imported = {m.group(1) for line in server.log_lines if (m := OPTIONAL_CLIENTS.search(line))}
    assert imported == set()

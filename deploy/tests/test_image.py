"""The registry image and a distribution image, built and run (``make image-test``).

Run by ``scripts/image.sh test`` after it has built ``$IMAGE`` with ``$CONTAINER_ENGINE``
(docker, or podman with buildah). Containers share the host's network and listen on a free
loopback port, so several runs can happen side by side.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLES, ROOT, free_port

ENGINE = os.environ.get("CONTAINER_ENGINE", "podman")
IMAGE = os.environ.get("IMAGE", "localhost/package-registry")
BAD_PACKAGE = ROOT / "tests" / "data" / "bad-packages" / "missing_readme" / "missing_readme"
EXAMPLE_NAMES = {"sample_logs", "sample_metrics", "sample_input", "sample_content"}


def engine(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ENGINE, *args], capture_output=True, text=True, timeout=timeout, check=check
    )


def build(context: Path, tag: str, *build_args: str) -> subprocess.CompletedProcess:
    args = [f"--build-arg={arg}" for arg in build_args]
    if ENGINE == "docker":
        command = ["docker", "build", *args, "-t", tag, str(context)]
    else:
        # --format docker keeps HEALTHCHECK, which the OCI image format cannot hold.
        command = ["buildah", "bud", "--format", "docker", *args, "-t", tag, str(context)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@dataclass
class Container:
    name: str
    base_url: str
    started: float

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base_url + path, timeout=10)

    def wait_healthy(self, timeout: float = 30) -> float:
        """Seconds from ``run`` until ``/health`` answered 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.get("/health").status_code == 200:
                    return time.monotonic() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        logs = engine("logs", self.name, check=False)
        raise AssertionError(f"{self.name} never became healthy:\n{logs.stdout}{logs.stderr}")


@pytest.fixture
def run() -> Iterator:
    """Factory: ``run(image, *flags, volumes=[...], options=[...])`` starts a container."""
    names: list[str] = []

    def start(
        image: str = IMAGE,
        *flags: str,
        volumes: tuple[str, ...] = (),
        options: tuple[str, ...] = (),
    ) -> Container:
        name = f"package-registry-test-{uuid.uuid4().hex[:10]}"
        address = f"127.0.0.1:{free_port()}"
        names.append(name)
        command = ["run", "-d", "--name", name, "--network", "host", "-e", f"EPR_ADDRESS={address}"]
        for volume in volumes:
            command += ["-v", volume]
        started = time.monotonic()
        engine(*command, *options, image, "-workers=1", *flags)
        return Container(name, f"http://{address}", started)

    yield start
    for name in names:
        engine("rm", "-f", "-t", "0", name, check=False)


def inspect(image: str) -> dict:
    return json.loads(engine("image", "inspect", image).stdout)[0]


def test_image_runs_as_non_root_with_a_health_check_and_port_8080():
    config = inspect(IMAGE)["Config"]
    assert config["User"] == "10001:10001"
    assert "8080/tcp" in config["ExposedPorts"]
    assert "EPR_ADDRESS=0.0.0.0:8080" in config["Env"]
    assert config["Entrypoint"] == ["package-registry"]
    # docker shows it in Config, podman beside it.
    health = config.get("Healthcheck") or inspect(IMAGE)["Healthcheck"]
    assert health["Test"] == ["CMD", "package-registry", "-health-check"]


def test_empty_image_is_healthy_quickly_and_serves_nothing(run):
    container = run()
    seconds = container.wait_healthy()
    print(f"\nfrom `{ENGINE} run` to /health answering: {seconds:.2f} s")
    assert seconds <= 3
    assert container.get("/search").json() == []
    uid = engine("exec", container.name, "id", "-u").stdout.strip()
    assert uid == "10001"
    # The image's own HEALTHCHECK command.
    assert engine("exec", container.name, "package-registry", "-health-check").returncode == 0
    if ENGINE == "podman":
        engine("healthcheck", "run", container.name)


def test_mounted_packages_are_served_from_a_read_only_root(run):
    container = run(
        volumes=(f"{EXAMPLES}:/packages/package-registry:ro",),
        options=("--read-only", "--tmpfs", "/tmp"),
    )
    container.wait_healthy()
    assert {item["name"] for item in container.get("/search").json()} == EXAMPLE_NAMES
    # A folder package is zipped into /tmp for its download.
    download = container.get("/epr/sample_logs/sample_logs-1.1.0.zip")
    assert (download.status_code, download.content[:2]) == (200, b"PK")


def test_sigterm_to_pid_1_stops_with_status_0_within_10_seconds(run):
    container = run(volumes=(f"{EXAMPLES}:/packages/package-registry:ro",))
    container.wait_healthy()
    container.get("/search")
    started = time.monotonic()
    engine("kill", "--signal", "TERM", container.name)
    status = engine("wait", container.name, timeout=30).stdout.strip()
    seconds = time.monotonic() - started
    print(f"\nSIGTERM to exit: {seconds:.2f} s, status {status}")
    assert status == "0"
    assert seconds <= 10
    assert "Package registry stopped" in engine("logs", container.name).stderr


def test_every_optional_client_is_installed():
    probe = (
        "import google.cloud.storage, boto3, elasticapm, shutil; "
        "assert shutil.which('py-spy'), 'py-spy'"
    )
    result = engine("run", "--rm", "--entrypoint", "python", IMAGE, "-c", probe, check=False)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def distribution_context(tmp_path: Path) -> Path:
    """A build context as users make it: the Dockerfile and a packages/ folder."""
    shutil.copy(ROOT / "deploy" / "distribution" / "Dockerfile", tmp_path / "Dockerfile")
    shutil.copytree(EXAMPLES, tmp_path / "packages")
    return tmp_path


def test_distribution_image_serves_its_packages(run, distribution_context: Path):
    tag = f"localhost/package-registry-distribution-test:{uuid.uuid4().hex[:8]}"
    built = build(distribution_context, tag, f"REGISTRY_IMAGE={IMAGE}")
    assert built.returncode == 0, built.stdout + built.stderr
    try:
        container = run(tag)
        container.wait_healthy()
        assert {item["name"] for item in container.get("/search").json()} == EXAMPLE_NAMES
        env = inspect(tag)["Config"]["Env"]
        assert "EPR_PACKAGE_PATHS_ENABLE_WATCHER=false" in env
        # The build's -dry-run filled the persistent catalog: nothing is parsed at start.
        logs = engine("logs", container.name)
        assert "packages taken as they were, 0 loaded" in logs.stdout + logs.stderr
    finally:
        engine("rmi", "-f", tag, check=False)  # -f: also the container still using it


def test_distribution_build_fails_on_an_invalid_package(distribution_context: Path):
    shutil.copytree(BAD_PACKAGE, distribution_context / "packages" / "missing_readme")
    tag = f"localhost/package-registry-distribution-test:{uuid.uuid4().hex[:8]}"
    built = build(distribution_context, tag, f"REGISTRY_IMAGE={IMAGE}")
    engine("rmi", "-f", tag, check=False)
    assert built.returncode != 0
    assert "invalid package" in built.stdout + built.stderr


def compose_command() -> list[str]:
    if ENGINE == "docker":
        return ["docker", "compose"]
    return [str(Path(sys.executable).parent / "podman-compose")]


def test_compose_serves_a_watched_folder(tmp_path: Path):
    packages = tmp_path / "packages"
    packages.mkdir()
    port = free_port()
    project = f"package-registry-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PORT": str(port), "PACKAGES": str(packages), "IMAGE": IMAGE}
    compose = [*compose_command(), "-p", project, "-f", str(ROOT / "deploy" / "compose.yaml")]
    up = subprocess.run([*compose, "up", "-d"], env=env, capture_output=True, text=True)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        container = Container(project, f"http://127.0.0.1:{port}", time.monotonic())
        container.wait_healthy()
        assert container.get("/search").json() == []
        # The watcher picks up packages copied into the mounted folder.
        shutil.copytree(EXAMPLES / "sample_logs", packages / "sample_logs")
        deadline = time.monotonic() + 20
        while container.get("/search").json() == [] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert {item["name"] for item in container.get("/search").json()} == {"sample_logs"}
    finally:
        subprocess.run([*compose, "down", "-t", "10"], env=env, capture_output=True, timeout=60)

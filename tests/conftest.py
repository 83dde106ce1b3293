"""Fixtures that start real registry processes on loopback.

Each server listens on an ephemeral port (``-address=127.0.0.1:0``) and announces it in
its ``listening on`` log line, so tests can run side by side. ``registry`` is a factory
for servers with their own packages and flags; ``examples_server`` is one shared
server over the shipped example packages (its catalog is immutable, so sharing is safe).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.client import BaseClient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "src" / "package_registry" / "examples"
EXECUTABLE = shutil.which("package-registry", path=str(Path(sys.executable).parent)) or ""

GCS_EMULATOR = shutil.which("gcp-storage-emulator", path=str(Path(sys.executable).parent))
MOTO_SERVER = shutil.which("moto_server", path=str(Path(sys.executable).parent))

_LISTENING = re.compile(r"listening on (https?)://([^\s\"]+)")

# Registries started by tests keep their persistent catalogs (the default) in a cache
# directory of their own, removed at the end, never in the user's. Setting
# EPR_CATALOG_PATH=:memory: runs the same tests with the catalog in memory only.
_CACHE_HOME = tempfile.mkdtemp(prefix="package-registry-tests-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE_HOME
atexit.register(shutil.rmtree, _CACHE_HOME, True)
#: Variables handed on to every registry a test starts (all other EPR_* are dropped).
_KEPT = ("EPR_CATALOG_PATH",)


@dataclass
class RunningRegistry:
    process: subprocess.Popen[str]
    base_url: str
    log_lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def url(self, path: str) -> str:
        return self.base_url + path

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(self.url(path), timeout=10, **kwargs)  # type: ignore[arg-type]

    def logs(self) -> list[dict[str, object]]:
        """The ECS log lines written so far, parsed."""
        out = []
        for line in list(self.log_lines):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


def write_config(directory: Path, package_paths: Sequence[Path | str], extra: str = "") -> Path:
    lines = ["package_paths:"] + [f'  - "{p}"' for p in package_paths]
    config = directory / "config.yml"
    config.write_text("\n".join(lines) + "\n" + extra)
    return config


def start_registry(
    args: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    preexec_fn: Callable[[], None] | None = None,
) -> RunningRegistry:
    """Start ``package-registry`` with ``args``; wait until it answers ``/health``.
    ``preexec_fn`` runs in the child before the program (e.g. to lower its limits)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EPR_") or k in _KEPT}
    environment.update(env or {})
    process = subprocess.Popen(
        [EXECUTABLE, "-address=127.0.0.1:0", *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=preexec_fn,
    )
    lines: list[str] = []
    found = threading.Event()
    address: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                lines.append(line.rstrip("\n"))
                match = _LISTENING.search(line)
                if match and not address:
                    address.append(f"{match.group(1)}://{match.group(2)}")
                    found.set()
        found.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    found.wait(timeout)
    if not address:
        stop_registry(process)
        raise RuntimeError("registry did not start:\n" + "\n".join(lines[-30:]))
    server = RunningRegistry(process, address[0], lines, reader)
    while time.monotonic() < deadline:
        try:
            if httpx.get(server.url("/health"), timeout=2, verify=False).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.05)
    stop_registry(process)
    raise RuntimeError("registry never became healthy:\n" + "\n".join(lines[-30:]))


def stop_registry(process: subprocess.Popen[str]) -> int:
    """SIGTERM, wait five seconds, then SIGKILL; return the exit status."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            return process.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    return process.wait(5)


Factory = Callable[..., RunningRegistry]


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until ``check()`` is true (a reload, a poll); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with ``openssl``."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Factory]:
    """Factory: ``registry(package_paths=[...], flags=[...], config_extra=...)``."""
    started: list[RunningRegistry] = []

    def make(
        package_paths: Sequence[Path | str] = (EXAMPLES,),
        flags: Sequence[str] = (),
        config_extra: str = "",
        env: dict[str, str] | None = None,
    ) -> RunningRegistry:
        config = write_config(tmp_path, package_paths, config_extra)
        server = start_registry([f"-config={config}", *flags], cwd=tmp_path, env=env)
        started.append(server)
        return server

    yield make
    for server in started:
        stop(server)


@pytest.fixture(scope="session")
def examples_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """One registry over the shipped examples, shared by read-only route tests."""
    directory = tmp_path_factory.mktemp("examples-server")
    config = write_config(directory, [EXAMPLES])
    server = start_registry([f"-config={config}", "-workers=1"], cwd=directory)
    yield server
    stop(server)


def stop(server: RunningRegistry) -> int:
    """Stop a registry and wait for its log reader to finish."""
    status = stop_registry(server.process)
    if server.reader is not None:
        server.reader.join(5)
    return status


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """The base URL of a running in-memory Cloud Storage emulator (one per session;
    tests keep apart by bucket name)."""
    if GCS_EMULATOR is None:
        pytest.skip("gcp-storage-emulator is not installed")
    port = free_port()
    yield from _serve_on(
        [GCS_EMULATOR, "start", "--host=127.0.0.1", f"--port={port}", "--in-memory", "--quiet"],
        port,
    )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of a running in-memory S3 server, moto's (one per session;
    tests keep apart by bucket name)."""
    if MOTO_SERVER is None:
        pytest.skip("moto_server is not installed (moto[server])")
    port = free_port()
    yield from _serve_on([MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)], port)


def _serve_on(command: list[str], port: int) -> Iterator[str]:
    """Run ``command`` until the caller is done with it; yield its URL once it listens."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"{command[0]} exited at start-up"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"{command[0]} did not start listening"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def s3_environment(endpoint: str) -> dict[str, str]:
    """The ``AWS_*`` variables that point boto3 at the S3 server at ``endpoint``."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def s3_client(endpoint: str) -> BaseClient:
    """A client of the S3 server at ``endpoint``, for the tests to fill buckets with."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )

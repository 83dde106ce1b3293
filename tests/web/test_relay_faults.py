"""The storage relay against a storage endpoint that stalls, fails or breaks mid-body.

A real registry (``-feature-storage-indexer`` over an index file) relays package files
from ``tests/faultserver.py``. Failures before the first byte are the reference's 500
``error from package-storage server``, within the outgoing timeouts; failures after it
abort the client connection, so no download ever looks complete when it is not.
Relayed bodies are streamed: parallel large downloads do not grow the worker.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningRegistry
from tests.faultserver import BIG_SIZE, FaultServer

WORDS = ("ok", "big", "stall", "stallbody", "half", "chunkhalf", "error", "garbage")
STORAGE_ERROR = (500, "error from package-storage server\n")


def manifest(name: str, version: str = "1.0.0") -> dict[str, object]:
    """A storage index entry, as small as the decoder accepts."""
    return {
        "package_manifest": {
            "name": name,
            "version": version,
            "title": name.title(),
            "type": "integration",
            "format_version": "3.0.0",
            "description": f"The {name} package.",
            "download": f"/epr/{name}/{name}-{version}.zip",
            "path": f"/package/{name}/{version}",
            "owner": {"github": "elastic/tests"},
        }
    }


def write_index(path: Path, entries: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"packages": entries}))
    return path


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def relaying(registry, faults, tmp_path) -> RunningRegistry:
    index = write_index(tmp_path / "index.json", [manifest(word) for word in WORDS])
    return registry(
        package_paths=[],
        flags=[
            "-feature-storage-indexer",
            f"-storage-endpoint={faults.url}",
            "-outgoing-connect-timeout=1s",
            # Short enough for the stall tests' bounds, long enough for the large parallel
            # downloads on a loaded machine.
            "-outgoing-read-timeout=2s",
            "-workers=1",
        ],
        env={"EPR_EMULATOR_INDEX_PATH": str(index)},
    )


def zip_path(word: str) -> str:
    return f"/epr/{word}/{word}-1.0.0.zip"


def test_a_good_file_is_relayed_with_its_headers(relaying):
    answer = relaying.get(zip_path("ok"))
    assert (answer.status_code, answer.content) == (200, b"PK-okay")
    assert answer.headers["content-length"] == "7"
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["last-modified"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    head = httpx.head(relaying.url(zip_path("ok")), timeout=5)
    assert (head.status_code, head.headers["content-length"]) == (200, "7")


def test_an_upstream_error_status_is_passed_on(relaying):
    answer = relaying.get(zip_path("error"))
    assert (answer.status_code, answer.content) == (500, b"broken")


@pytest.mark.parametrize("word", ["stall", "garbage"])
def test_no_answer_before_the_first_byte_is_a_500_within_the_timeout(relaying, word):
    started = time.monotonic()
    answer = relaying.get(zip_path(word))
    assert (answer.status_code, answer.text) == STORAGE_ERROR
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("word", ["half", "chunkhalf", "stallbody"])
def test_a_transfer_broken_mid_body_aborts_the_client_connection(relaying, word):
    started = time.monotonic()
    with httpx.stream("GET", relaying.url(zip_path(word)), timeout=10) as answer:
        assert answer.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            answer.read()
    assert time.monotonic() - started < 5
    # The worker is fine and serves the same catalog afterwards.
    assert relaying.get("/health").status_code == 200
    assert relaying.get(zip_path("ok")).content == b"PK-okay"
    assert {item["name"] for item in relaying.get("/search").json()} == set(WORDS)


def _group_rss_kib(leader: int) -> int:
    """Resident memory of the registry's processes (its session), in KiB."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            if int(fields[3]) != leader:  # the process group (start_new_session)
                continue
            with open(f"/proc/{entry}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total


def test_parallel_large_downloads_are_streamed_not_held(relaying):
    assert relaying.get(zip_path("ok")).status_code == 200  # the relay's client is made
    before = _group_rss_kib(relaying.process.pid)
    peak = before

    def download() -> int:
        size = 0
        with httpx.stream("GET", relaying.url(zip_path("big")), timeout=30) as answer:
            assert answer.headers["content-length"] == str(BIG_SIZE)
            for chunk in answer.iter_raw():
                size += len(chunk)
        return size

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        running = [pool.submit(download) for _ in range(5)]
        while not all(job.done() for job in running):
            peak = max(peak, _group_rss_kib(relaying.process.pid))
            time.sleep(0.05)
        assert [job.result() for job in running] == [BIG_SIZE] * 5
    # 5 x 64 MiB went through; held whole, the worker would grow by 320 MiB. Streamed it
    # grows by a few MiB per transfer in flight (about 35 MiB here, the same for 256 MiB
    # files).
    assert (peak - before) < 96 * 1024

"""``-feature-storage-indexer`` end to end: a registry reading a bucket in a real GCS
emulator process (or S3 server), relaying files from a real HTTP server standing in for
the public package storage, and following the bucket's cursor while it serves."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from tests.conftest import (
    EXAMPLES,
    RunningRegistry,
    eventually,
    free_port,
    s3_client,
    s3_environment,
)
from tests.storage_index import NAME, small_index

#: What the stand-in package storage serves as the zip of ``NAME`` 0.1.1.
ZIP = f"PK zip of {NAME} 0.1.1".encode()


def upload(bucket: storage.Bucket, name: str, data: bytes) -> None:
    bucket.blob(name).upload_from_string(data)


def publish(put: Callable[[str, bytes], None], cursor: str, index: dict) -> None:
    """A new revision of the index, then the cursor that points at it (``put(name, data)``
    writes an object)."""
    put(f"v2/metadata/{cursor}/search-index-all.json", json.dumps(index).encode())
    put("v2/metadata/cursor.json", json.dumps({"current": cursor}).encode())


@pytest.fixture
def bucket(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> storage.Bucket:
    """A new, empty bucket in the emulator."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    return client.create_bucket(f"storage-mode-{uuid.uuid4().hex[:12]}")


def storage_flags(bucket_url: str, endpoint: str) -> list[str]:
    return [
        "-feature-storage-indexer",
        f"-storage-indexer-bucket-internal={bucket_url}",
        f"-storage-endpoint={endpoint}",
        "-storage-indexer-watch-interval=1s",
    ]


def manifest_like(index: dict, name: str, version: str) -> dict:
    """The first manifest of ``index`` under another name and version."""
    manifest = json.loads(json.dumps(index["packages"][0]["package_manifest"]))
    manifest.update(name=name, version=version, download=f"/epr/{name}/{name}-{version}.zip")
    manifest["path"] = f"/package/{name}/{version}"
    return {"package_manifest": manifest}


@pytest.fixture
def artifacts(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server over a folder laid out like the public package storage."""
    root = tmp_path / "storage"
    packages = root / "artifacts" / "packages"
    static = root / "artifacts" / "static" / f"{NAME}-0.1.1" / "img"
    packages.mkdir(parents=True)
    static.mkdir(parents=True)
    (packages / f"{NAME}-0.1.1.zip").write_bytes(ZIP)
    (packages / f"{NAME}-0.1.1.zip.sig").write_bytes(b"-----BEGIN PGP SIGNATURE-----\n")
    (static / "logo light [bg].svg").write_bytes(b"<svg/>")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield url, root
    process.terminate()
    process.wait(5)


def versions(server: RunningRegistry, name: str) -> set[str]:
    answer = server.get(f"/search?package={name}&all=true&prerelease=true")
    assert answer.status_code == 200
    return {item["version"] for item in answer.json()}


@pytest.fixture
def storage_registry(registry, gcs_emulator, bucket, artifacts) -> Callable[..., RunningRegistry]:
    publish(partial(upload, bucket), "1", small_index())
    endpoint, _ = artifacts

    def start(*flags: str) -> RunningRegistry:
        return registry(
            package_paths=[EXAMPLES],
            flags=[*storage_flags(f"gs://{bucket.name}", endpoint), *flags],
            env={"STORAGE_EMULATOR_HOST": gcs_emulator},
        )

    return start


def test_storage_and_local_packages_are_served_together(storage_registry):
    server = storage_registry("-workers=1")
    assert versions(server, NAME) == {"0.1.1", "0.2.0"}
    assert versions(server, "sample_logs")  # the local package paths still count
    document = server.get(f"/package/{NAME}/0.1.1/").json()
    assert document["name"] == NAME and document["version"] == "0.1.1"
    assert [stream["path"] for stream in document["data_streams"]] == ["logins", "secret_reads"]
    assert document["icons"][0]["path"] == f"/package/{NAME}/0.1.1/img/logo.svg"


def test_files_are_relayed_from_the_storage_endpoint(storage_registry):
    server = storage_registry("-workers=1")
    download = server.get(f"/epr/{NAME}/{NAME}-0.1.1.zip")
    assert download.status_code == 200
    assert download.content == ZIP
    assert download.headers["cache-control"].startswith("max-age=")
    assert "last-modified" in download.headers
    signature = server.get(f"/epr/{NAME}/{NAME}-0.1.1.zip.sig")
    assert signature.content.startswith(b"-----BEGIN PGP SIGNATURE")
    static = server.get(f"/package/{NAME}/0.1.1/img/logo%20light%20%5Bbg%5D.svg")
    assert (static.status_code, static.content) == (200, b"<svg/>")
    missing = server.get(f"/epr/{NAME}/{NAME}-0.2.0.zip")  # in the index, not stored
    assert missing.status_code == 404
    assert server.get("/epr/nothing/nothing-1.0.0.zip").status_code == 404


def test_unreachable_storage_endpoint_is_a_500(registry, gcs_emulator, bucket):
    publish(partial(upload, bucket), "1", small_index())
    unreachable = f"http://127.0.0.1:{free_port()}/"
    server = registry(
        flags=[*storage_flags(f"gs://{bucket.name}", unreachable), "-workers=1"],
        env={"STORAGE_EMULATOR_HOST": gcs_emulator},
    )
    answer = server.get(f"/epr/{NAME}/{NAME}-0.1.1.zip")
    assert (answer.status_code, answer.text) == (500, "error from package-storage server\n")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_new_cursor_is_followed_and_a_bad_index_ignored(storage_registry, bucket, workers):
    server = storage_registry(f"-workers={workers}")
    index = small_index()
    newer = {"packages": [*index["packages"], manifest_like(index, NAME, "0.3.0")]}
    publish(partial(upload, bucket), "2", newer)
    # Every worker comes to serve the new catalog: ten answers in a row agree. (With
    # several workers, the old ones may answer for a moment after the first new one.)
    newest = {"0.1.1", "0.2.0", "0.3.0"}
    eventually(lambda: all(versions(server, NAME) == newest for _ in range(10)))

    upload(bucket, "v2/metadata/3/search-index-all.json", b"{not json")
    upload(bucket, "v2/metadata/cursor.json", b'{"current": "3"}')
    eventually(
        lambda: any(line.get("message") == "can't update index file" for line in server.logs())
    )
    assert versions(server, NAME) == {"0.1.1", "0.2.0", "0.3.0"}


def test_a_bucket_without_cursor_stops_start_up(registry, gcs_emulator, bucket):
    with pytest.raises(RuntimeError, match="Init failed"):
        registry(
            flags=storage_flags(f"gs://{bucket.name}", "http://127.0.0.1:1/"),
            env={"STORAGE_EMULATOR_HOST": gcs_emulator},
        )


def test_an_s3_bucket_is_served(registry, s3_server, artifacts):
    s3 = s3_client(s3_server)
    name = f"storage-mode-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)

    def put(key: str, data: bytes) -> None:
        s3.put_object(Bucket=name, Key=f"root/{key}", Body=data)

    publish(put, "1", small_index())
    endpoint, _ = artifacts

    server = registry(
        flags=[*storage_flags(f"s3://{name}/root", endpoint), "-workers=1"],
        env=s3_environment(s3_server),
    )

    assert versions(server, NAME) == {"0.1.1", "0.2.0"}
    assert versions(server, "sample_logs")
    download = server.get(f"/epr/{NAME}/{NAME}-0.1.1.zip")
    assert (download.status_code, download.content) == (200, ZIP)

    index = small_index()
    newer = {"packages": [*index["packages"], manifest_like(index, NAME, "0.3.0")]}
    publish(put, "2", newer)
    eventually(lambda: versions(server, NAME) == {"0.1.1", "0.2.0", "0.3.0"})


@pytest.mark.parametrize("indexer", ["-feature-storage-indexer", "-feature-sql-storage-indexer"])
def test_emulator_index_path_serves_one_index_file(registry, artifacts, indexer, tmp_path):
    """``EPR_EMULATOR_INDEX_PATH``: the file is revision 1 of the fake bucket, with either
    indexer."""
    endpoint, _ = artifacts
    index_file = tmp_path / "search-index-all.json"
    index_file.write_text(json.dumps(small_index()))
    server = registry(
        package_paths=[],
        flags=[indexer, f"-storage-endpoint={endpoint}", "-workers=1"],
        env={
            "EPR_EMULATOR_INDEX_PATH": str(index_file),
            "EPR_SQL_INDEXER_DATABASE_FOLDER_PATH": str(tmp_path / "db"),
        },
    )
    assert versions(server, NAME) == {"0.1.1", "0.2.0"}
    assert server.get(f"/epr/{NAME}/{NAME}-0.1.1.zip").content.startswith(b"PK")

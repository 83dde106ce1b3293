"""Bucket reads against a store that never answers: the outgoing timeouts end them.

The clients are the real ones (google-cloud-storage, boto3) pointed at
``tests/faultserver.py`` the way an emulator or MinIO would be configured; a stalled
read must fail the update with the reference's error text within the limits, leaving
the index as it was.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest

from package_registry.config.outgoing import OutgoingTimeouts
from package_registry.sources.storage import (
    StorageError,
    StorageIndex,
    open_bucket,
    parse_bucket_url,
)
from tests.conftest import eventually, s3_client, s3_environment
from tests.faultserver import FaultServer
from tests.web.test_relay_faults import manifest

TIGHT = OutgoingTimeouts(connect=1.0, read=0.5, total=2.0)


@pytest.fixture
def stalling() -> Iterator[FaultServer]:
    with FaultServer("stall") as server:
        yield server


@pytest.mark.parametrize("scheme", ["gs", "s3"])
def test_a_stalled_store_fails_the_update_within_the_timeouts(
    stalling: FaultServer, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    if scheme == "gs":
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", stalling.url.rstrip("/"))
    else:
        for variable, value in s3_environment(stalling.url.rstrip("/")).items():
            monkeypatch.setenv(variable, value)
    location = parse_bucket_url(f"{scheme}://stalled")
    index = StorageIndex(open_bucket(location, timeouts=TIGHT), location)

    started = time.monotonic()
    with pytest.raises(StorageError) as caught:
        index.update()
    assert time.monotonic() - started < TIGHT.total + 3
    assert str(caught.value).startswith(
        "can't load latest cursor: can't read the cursor file (path: v2/metadata/cursor.json): "
    )
    assert (index.cursor, index.packages) == (None, ())
    assert stalling.requests["cursor.json"] >= 1


def test_a_store_that_stalls_later_leaves_the_last_good_catalog_serving(registry, s3_server):
    """A registry polls an S3 bucket through a server that forwards, then stalls: the
    update fails within the timeouts, the old catalog keeps serving, and the next
    update after the store recovers is picked up."""
    s3 = s3_client(s3_server)
    name = f"stalls-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)

    def publish(cursor: str, *packages: str) -> None:
        index = {"packages": [manifest(package) for package in packages]}
        s3.put_object(
            Bucket=name, Key=f"v2/metadata/{cursor}/search-index-all.json", Body=json.dumps(index)
        )
        s3.put_object(Bucket=name, Key="v2/metadata/cursor.json", Body=f'{{"current": "{cursor}"}}')

    publish("1", "first")
    with FaultServer("forward", forward_to=s3_server.removeprefix("http://")) as between:
        server = registry(
            package_paths=[],
            flags=[
                "-feature-storage-indexer",
                f"-storage-indexer-bucket-internal=s3://{name}",
                "-storage-endpoint=http://127.0.0.1:1/",
                "-storage-indexer-watch-interval=1s",
                "-outgoing-read-timeout=1s",
                "-outgoing-total-timeout=2s",
                "-workers=1",
            ],
            env=s3_environment(between.url.rstrip("/")),
        )

        def served() -> set[str]:
            return {item["name"] for item in server.get("/search").json()}

        assert served() == {"first"}
        between.fallback = "stall"
        publish("2", "first", "second")
        eventually(
            lambda: any(line.get("message") == "can't update index file" for line in server.logs())
        )
        failure = next(
            line for line in server.logs() if line.get("message") == "can't update index file"
        )
        assert str(failure["error"]["message"]).startswith("can't load latest cursor: ")  # type: ignore[index]
        assert served() == {"first"}
        assert server.get("/health").status_code == 200
        between.fallback = "forward"
        eventually(lambda: served() == {"first", "second"})

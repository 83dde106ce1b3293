"""Bucket reads against a store that never answers: the outgoing timeouts end them.

The clients are the real ones (google-cloud-storage, boto3) pointed at
``tests/faultserver.py`` the way an emulator or MinIO would be configured; a stalled
read must fail the update with the reference's error text within the limits, leaving
the index as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from package_registry.config.outgoing import OutgoingTimeouts
from package_registry.sources.storage import (
    StorageError,
    StorageIndex,
    open_bucket,
    parse_bucket_url,
)
from tests.conftest import s3_environment
from tests.faultserver import FaultServer

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

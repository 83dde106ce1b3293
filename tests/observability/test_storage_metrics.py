"""The storage series of the reference's metrics package, each moved by a real event.

A registry with ``-metrics-address`` is started over the shipped examples and/or a
storage index (an index file, or a bucket in the Cloud Storage emulator whose cursor the
test moves); after the event, ``/metrics`` of that process is scraped.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import httpx
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from tests.conftest import RunningRegistry, eventually, free_port
from tests.faultserver import FaultServer
from tests.web.test_relay_faults import manifest, write_index

GO_DEFAULT_BUCKETS = [
    "0.005",
    "0.01",
    "0.025",
    "0.05",
    "0.1",
    "0.25",
    "0.5",
    "1.0",
    "2.5",
    "5.0",
    "10.0",
]


class Scraper:
    def __init__(self, server: RunningRegistry, port: int) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{port}/metrics"

    def text(self) -> str:
        return httpx.get(self.url, timeout=5).text

    def value(self, series: str, **labels: str) -> float:
        """The sample of ``series`` whose labels include ``labels`` (0 when absent)."""
        for line in self.text().splitlines():
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name != series:
                continue
            if all(f'{key}="{value}"' in line for key, value in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


def start(registry, *flags: str, package_paths=(), env=None) -> Scraper:  # type: ignore[no-untyped-def]
    port = free_port()
    server = registry(
        package_paths=list(package_paths),
        flags=[*flags, f"-metrics-address=127.0.0.1:{port}"],
        env=env,
    )
    return Scraper(server, port)


@pytest.fixture
def index_file(tmp_path: Path) -> Path:
    return write_index(tmp_path / "index.json", [manifest("ok"), manifest("other")])


def storage_flags(endpoint: str = "http://127.0.0.1:1/") -> list[str]:
    return ["-feature-storage-indexer", f"-storage-endpoint={endpoint}", "-workers=1"]


def help_line(text: str, series: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"# HELP {series} "))


def test_storage_requests_count_local_and_relayed_files(registry, tmp_path):
    from tests.conftest import EXAMPLES

    with FaultServer() as endpoint:
        index = write_index(tmp_path / "index.json", [manifest("ok")])
        scraper = start(
            registry,
            *storage_flags(endpoint.url),
            package_paths=[EXAMPLES],
            env={"EPR_EMULATOR_INDEX_PATH": str(index)},
        )
        server = scraper.server
        for _ in range(2):
            assert server.get("/epr/sample_metrics/sample_metrics-1.0.0.zip").status_code == 200
        assert server.get("/epr/sample_metrics/sample_metrics-1.0.0.zip.sig").status_code == 200
        assert server.get("/package/sample_metrics/1.0.0/manifest.yml").status_code == 200
        assert server.get("/epr/ok/ok-1.0.0.zip").content == b"PK-okay"
        assert server.get("/epr/nothing/nothing-1.0.0.zip").status_code == 404  # not counted

        def count(location: str, component: str) -> float:
            return scraper.value(
                "epr_storage_requests_total", location=location, component=component
            )

        assert count("local", "artifacts") == 2  # the second answer may be a replay
        assert count("local", "signatures") == 1
        assert count("local", "statics") == 1
        assert count("remote", "artifacts") == 1
        assert help_line(scraper.text(), "epr_storage_requests_total") == (
            "# HELP epr_storage_requests_total A counter for requests performed to the storage."
        )


def test_update_index_success_is_counted_once_per_new_cursor(registry, index_file):
    scraper = start(registry, *storage_flags(), env={"EPR_EMULATOR_INDEX_PATH": str(index_file)})
    series = "epr_storage_indexer_update_index_success_total"
    assert scraper.value(series) == 1
    assert help_line(scraper.text(), series) == (
        f"# HELP {series} A counter for all the updates index of the cursor that finished "
        "successfully in the storage indexer."
    )


def test_update_index_duration_is_observed_for_every_update(registry, index_file):
    scraper = start(registry, *storage_flags(), env={"EPR_EMULATOR_INDEX_PATH": str(index_file)})
    series = "epr_storage_indexer_update_index_duration_seconds"
    assert scraper.value(f"{series}_count") >= 1
    text = scraper.text()
    assert re.findall(rf'^{series}_bucket{{le="([^"]+)"}}', text, re.MULTILINE) == [
        *GO_DEFAULT_BUCKETS,
        "+Inf",
    ]
    assert help_line(text, series) == (
        f"# HELP {series} A histogram of latencies for update index processes run by the "
        "storage indexer."
    )


def test_update_index_errors_are_counted_and_the_last_index_kept(
    registry, gcs_emulator, monkeypatch
):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    bucket = client.create_bucket(f"metrics-{uuid.uuid4().hex[:12]}")
    bucket.blob("v2/metadata/1/search-index-all.json").upload_from_string(
        json.dumps({"packages": [manifest("ok")]})
    )
    bucket.blob("v2/metadata/cursor.json").upload_from_string('{"current": "1"}')
    scraper = start(
        registry,
        *storage_flags(),
        f"-storage-indexer-bucket-internal=gs://{bucket.name}",
        "-storage-indexer-watch-interval=1s",
        env={"STORAGE_EMULATOR_HOST": gcs_emulator},
    )
    errors = "epr_storage_indexer_update_index_error_total"
    assert scraper.value(errors) == 0
    bucket.blob("v2/metadata/cursor.json").upload_from_string(b"{not json")
    eventually(lambda: scraper.value(errors) >= 1)
    assert scraper.value("epr_storage_indexer_update_index_success_total") == 1
    assert [item["name"] for item in scraper.server.get("/search").json()] == ["ok"]
    assert help_line(scraper.text(), errors) == (
        f"# HELP {errors} A counter for all the update index of the cursor that finished "
        "with error in the storage indexer."
    )


@pytest.mark.parametrize(
    ("flag", "label"),
    [
        ("-feature-storage-indexer", "StorageIndexer"),
        ("-feature-sql-storage-indexer", "SQLStorageIndexer"),
    ],
)
def test_indexer_get_duration_is_observed_per_catalog_request(registry, index_file, flag, label):
    scraper = start(
        registry,
        flag,
        "-storage-endpoint=http://127.0.0.1:1/",
        "-workers=1",
        env={"EPR_EMULATOR_INDEX_PATH": str(index_file)},
    )
    server = scraper.server
    for path in ("/search?package=ok", "/categories", "/package/ok/1.0.0/"):
        assert server.get(path).status_code == 200
    assert server.get("/health").status_code == 200  # asks no packages: not observed
    series = "epr_indexer_get_duration_seconds"
    assert scraper.value(f"{series}_count", indexer=label) == 3
    text = scraper.text()
    assert help_line(text, series) == (
        f"# HELP {series} A histogram of latencies for get processes run by the indexer."
    )
    buckets = re.findall(rf'^{series}_bucket{{indexer="{label}",le="([^"]+)"}}', text, re.M)
    assert buckets == [*GO_DEFAULT_BUCKETS, "+Inf"]

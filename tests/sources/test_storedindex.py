"""The SQL storage indexer's database: a ``file://`` bucket read as a stream into rows of
a real SQLite file, compared with the in-memory indexer's packages."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from package_registry.packages.store import bucket_store_file, open_store
from package_registry.sources.storage import (
    LocalBucket,
    StorageError,
    StorageIndex,
    parse_bucket_url,
)
from package_registry.sources.storedindex import StoredIndex
from tests.storage_index import NAME, deprecated_index, index_of, manifest, small_index


class Bucket:
    """A bucket in a folder, as ``package-registry build --format bucket`` writes one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = f"file://{folder}"

    def publish(self, cursor: str, index: dict[str, Any] | bytes) -> None:
        revision = self.folder / "v2" / "metadata" / cursor
        revision.mkdir(parents=True, exist_ok=True)
        data = index if isinstance(index, bytes) else orjson.dumps(index)
        (revision / "search-index-all.json").write_bytes(data)
        (self.folder / "v2" / "metadata" / "cursor.json").write_bytes(
            orjson.dumps({"current": cursor})
        )

    def index(self, database: Path | None = None, batch: int = 2) -> StorageIndex:
        stored = None
        if database is not None:
            store = open_store(
                str(database),
                (),
                ("storage-index", self.url),
                path=bucket_store_file(str(database), self.url),
            )
            assert store is not None
            stored = StoredIndex(store, batch, 0.0)
        return StorageIndex(
            LocalBucket(str(self.folder)), parse_bucket_url(self.url), stored=stored
        )


@pytest.fixture
def bucket(tmp_path: Path) -> Bucket:
    return Bucket(tmp_path / "bucket")


def rows(index: StorageIndex) -> dict[int, str]:
    """Row id → location of every row in the index's database."""
    assert index.stored is not None
    with sqlite3.connect(index.stored.store.path) as connection:
        return dict(connection.execute("SELECT id, location FROM packages"))


def documents(index: StorageIndex) -> list[tuple[Any, ...]]:
    """What each package is served as, in order."""
    return [
        (p.key, p.documents.full_json(), p.documents.fragment(), p.deprecated)
        for p in index.packages
    ]


def varied_index() -> dict[str, Any]:
    """The rich packages, a deprecated one, small ones, a float, a template-only category."""
    small = small_index()["packages"]
    templates = [{"name": "t", "title": "T", "categories": ["network"], "inputs": []}]
    extra = index_of(
        manifest("a", "1.0.0", categories=["security"], policy_templates=templates),
        manifest("a", "2.0.0-beta1", vars=[{"name": "ratio", "type": "text", "default": 0.25}]),
        manifest("b", "0.1.0", deprecated={"since": "1.0.0", "description": "gone"}),
        manifest("b", "0.2.0"),
    )["packages"]
    return {"packages": [*small, *extra, *deprecated_index()["packages"]]}


def test_packages_are_served_as_the_in_memory_indexer_serves_them(
    bucket: Bucket, tmp_path: Path
) -> None:
    bucket.publish("1", varied_index())
    memory, sql = bucket.index(), bucket.index(tmp_path / "db")
    memory.update()
    sql.update()

    assert documents(sql) == documents(memory)
    # Only the light fields stay in memory: the documents are read from the file.
    # (deprecated packages carry the notice spread to them, in memory).
    plain = next(p for p in sql.packages if p.key == ("a", "1.0.0"))
    assert type(plain.documents).__name__ == "StoredDocuments"
    assert (tmp_path / "db").is_dir() and Path(sql.stored.store.path).parent == tmp_path / "db"


def test_a_moved_cursor_keeps_the_rows_of_unchanged_entries(
    bucket: Bucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = index_of(manifest("a", "1.0.0"), manifest("b", "1.0.0"), manifest("c", "1.0.0"))
    bucket.publish("1", first)
    index = bucket.index(tmp_path / "db")
    index.update()
    before = rows(index)
    kept_a = index.packages[0]

    # b changed, c removed, d added.
    bucket.publish(
        "2",
        index_of(manifest("a", "1.0.0"), manifest("b", "1.0.0", title="B"), manifest("d", "1.0.0")),
    )
    with caplog.at_level(logging.INFO, "package_registry.storage"):
        assert index.update() is True

    assert [p.key for p in index.packages] == [("a", "1.0.0"), ("b", "1.0.0"), ("d", "1.0.0")]
    assert index.packages[0] is kept_a
    assert index.packages[1].full["title"] == "B"
    assert (index.stored.kept, index.stored.stored) == (1, 2)
    assert "1 packages taken as they were, 2 stored" in caplog.text
    after = rows(index)  # retired rows swept (no grace here)
    assert sorted(after.values()) == ["a-1.0.0", "b-1.0.0", "d-1.0.0"]
    a_row = next(row for row, location in before.items() if location == "a-1.0.0")
    assert after[a_row] == "a-1.0.0"


def test_a_restart_takes_every_unchanged_row_as_it_was(bucket: Bucket, tmp_path: Path) -> None:
    bucket.publish("1", varied_index())
    first = bucket.index(tmp_path / "db")
    first.update()
    expected, stored_rows = documents(first), rows(first)
    first.stored.store.close()

    again = bucket.index(tmp_path / "db")
    again.update()

    assert (again.stored.kept, again.stored.stored) == (len(expected), 0)
    assert documents(again) == expected
    assert rows(again) == stored_rows


def test_a_failed_load_keeps_the_published_index_and_drops_its_rows(
    bucket: Bucket, tmp_path: Path
) -> None:
    bucket.publish("1", index_of(manifest("a", "1.0.0")))
    index = bucket.index(tmp_path / "db", batch=1)
    index.update()
    published, before = index.packages, rows(index)
    # Two new entries are written before the document turns out to be cut.
    whole = orjson.dumps(index_of(manifest("x", "1.0.0"), manifest("y", "1.0.0")))
    bucket.publish("2", whole[:-10])

    with pytest.raises(StorageError, match="unexpected error while reading index file"):
        index.update()

    assert index.packages is published and index.cursor == "1"
    bucket.publish("3", index_of(manifest("a", "1.0.0")))
    index.update()  # the next update sweeps what the failed one wrote
    assert rows(index) == before


def test_a_damaged_database_is_rebuilt(
    bucket: Bucket, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bucket.publish("1", small_index())
    database = tmp_path / "db"
    database.mkdir()
    Path(bucket_store_file(str(database), bucket.url)).write_bytes(b"not a database" * 100)

    with caplog.at_level(logging.WARNING, "package_registry.catalog"):
        index = bucket.index(database)
    index.update()

    assert "persistent catalog rebuilt" in caplog.text
    assert [p.key for p in index.packages] == [(NAME, "0.1.1"), (NAME, "0.2.0")]
    assert (
        index.packages[1].full["title"] == small_index()["packages"][1]["package_manifest"]["title"]
    )

"""``-feature-sql-storage-indexer`` end to end: real registries reading a ``file://``
bucket, the index kept in a SQLite file of ``sql_indexer.database_folder_path``, and the
``/search`` and ``/categories`` answer bounds of the reference's cache flags."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from package_registry.packages.store import bucket_store_file
from tests.conftest import RunningRegistry, eventually
from tests.storage_index import NAME, index_of, manifest, small_index

#: What each registry is asked, and must answer the same with either indexer.
TARGETS = (
    "/search",
    "/search?prerelease=true",
    "/search?all=true&prerelease=true",
    "/search?category=security",
    "/search?category=network&prerelease=true",
    "/categories",
    "/categories?prerelease=true&include_policy_templates=true",
    f"/package/{NAME}/0.1.1/",
    f"/package/{NAME}/0.2.0/",
    "/package/beta/2.0.0-beta1/",
    "/package/old/0.1.0/",
)


def first_index() -> dict[str, Any]:
    templates = [{"name": "t", "title": "T", "categories": ["network"], "inputs": []}]
    return {
        "packages": [
            *small_index()["packages"],
            *index_of(
                manifest("beta", "2.0.0-beta1", categories=["network"]),
                manifest("tmpl", "1.0.0", categories=["security"], policy_templates=templates),
                manifest("old", "0.1.0", deprecated={"since": "1.0.0", "description": "gone"}),
                manifest("old", "0.2.0"),
                manifest("gone", "1.0.0"),
            )["packages"],
        ]
    }


def publish(bucket: Path, cursor: str, index: dict[str, Any]) -> None:
    revision = bucket / "v2" / "metadata" / cursor
    revision.mkdir(parents=True, exist_ok=True)
    (revision / "search-index-all.json").write_text(json.dumps(index))
    (bucket / "v2" / "metadata" / "cursor.json").write_text(json.dumps({"current": cursor}))


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    folder = tmp_path / "bucket"
    publish(folder, "1", first_index())
    return folder


def start(
    registry, bucket: Path, *flags: str, database: Path | None = None, env=None, extra: str = ""
) -> RunningRegistry:
    config = extra
    if database is not None:
        config += f'sql_indexer.database_folder_path: "{database}"\n'
    return registry(
        package_paths=[],
        flags=[
            f"-storage-indexer-bucket-internal=file://{bucket}",
            f"-storage-endpoint=file://{bucket}",
            "-storage-indexer-watch-interval=1s",
            "-workers=1",
            *flags,
        ],
        config_extra=config,
        env=env,
    )


def answers(server: RunningRegistry) -> dict[str, tuple[int, bytes]]:
    out = {}
    for target in TARGETS:
        response = server.get(target)
        out[target] = (response.status_code, response.content)
    return out


def messages(server: RunningRegistry) -> list[str]:
    return [str(line.get("message")) for line in server.logs()]


def test_answers_are_those_of_the_in_memory_indexer(registry, bucket, tmp_path):
    database = tmp_path / "databases"
    memory = start(registry, bucket, "-feature-storage-indexer")
    sql = start(registry, bucket, "-feature-sql-storage-indexer", database=database)

    expected = answers(memory)
    assert all(status == 200 for status, _ in expected.values()), expected
    assert answers(sql) == expected
    path = Path(bucket_store_file(str(database), f"file://{bucket}"))
    assert path.is_file()
    assert str(path) in json.dumps(sql.logs())


def test_a_moved_cursor_keeps_unchanged_rows(registry, bucket, tmp_path):
    server = start(registry, bucket, "-feature-sql-storage-indexer", database=tmp_path / "db")
    index = first_index()
    entries = index["packages"]
    count = len(entries)
    changed = copy.deepcopy(entries)
    changed[0]["package_manifest"]["title"] = "Changed title"
    changed = [e for e in changed if e["package_manifest"]["name"] != "gone"]
    changed.append({"package_manifest": manifest("new", "1.0.0")})
    publish(bucket, "2", {"packages": changed})

    eventually(lambda: server.get("/search?package=new").json() != [])
    assert server.get("/search?package=gone").json() == []
    document = server.get(f"/package/{NAME}/0.1.1/").json()
    assert document["title"] == "Changed title"
    assert server.get(f"/package/{NAME}/0.2.0/").json()["title"] != "Changed title"
    stored = [m for m in messages(server) if m.startswith("storage index database:")]
    assert stored == [
        f"storage index database: 0 packages taken as they were, {count} stored",
        f"storage index database: {count - 2} packages taken as they were, 2 stored",
    ]


def test_the_insert_batch_size_sizes_the_writes(registry, bucket, tmp_path):
    server = start(
        registry,
        bucket,
        "-feature-sql-storage-indexer",
        "-log-level=debug",
        database=tmp_path / "db",
        env={"EPR_SQL_INDEXER_DB_INSERT_BATCH_SIZE": "3"},
    )
    batches = [
        line.get("num.packages") or (line.get("num") or {}).get("packages")  # type: ignore[union-attr]
        for line in server.logs()
        if line.get("message") == "Filled database with a batch of packages"
    ]
    assert batches == [3, 3, 1]  # the seven entries of the first index


def test_a_restart_reuses_the_database_and_a_damaged_one_is_rebuilt(registry, bucket, tmp_path):
    database = tmp_path / "db"
    first = start(registry, bucket, "-feature-sql-storage-indexer", database=database)
    expected = answers(first)
    first.process.terminate()
    first.process.wait(10)
    count = len(first_index()["packages"])

    again = start(registry, bucket, "-feature-sql-storage-indexer", database=database)
    assert f"storage index database: {count} packages taken as they were, 0 stored" in messages(
        again
    )
    again.process.terminate()
    again.process.wait(10)

    path = Path(bucket_store_file(str(database), f"file://{bucket}"))
    path.write_bytes(b"\x00garbage" * 512)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    rebuilt = start(registry, bucket, "-feature-sql-storage-indexer", database=database)
    assert "persistent catalog rebuilt" in messages(rebuilt)
    assert answers(rebuilt) == expected


def cache_lines(server: RunningRegistry) -> list[tuple[str, str]]:
    """(message, cache.url) of the answer cache's debug lines, in order."""
    out = []
    for line in server.logs():
        url = line.get("cache.url") or (line.get("cache") or {}).get("url")  # type: ignore[union-attr]
        if url is not None:
            out.append((str(line["message"]), str(url)))
    return out


ADDED, USED = "added to cache request", "using as response cached request"


def test_search_cache_size_evicts_the_least_recently_used_answer(registry, bucket, tmp_path):
    server = start(
        registry,
        bucket,
        "-feature-sql-storage-indexer",
        "-feature-enable-search-cache",
        "-log-level=debug",
        database=tmp_path / "db",
        extra="search.cache_size: 2\n",
    )
    for target in ("/search?package=old", "/search?package=beta", "/search?package=old"):
        assert server.get(target).status_code == 200
    server.get("/search?package=tmpl")  # a third answer: beta (least recently used) goes
    server.get("/search?package=old")
    server.get("/search?package=beta")
    eventually(lambda: len(cache_lines(server)) == 6)
    assert cache_lines(server) == [
        (ADDED, "/search?package=old"),
        (ADDED, "/search?package=beta"),
        (USED, "/search?package=old"),
        (ADDED, "/search?package=tmpl"),
        (USED, "/search?package=old"),
        (ADDED, "/search?package=beta"),
    ]


def test_categories_cache_ttl_recomputes_an_expired_answer(registry, bucket, tmp_path):
    server = start(
        registry,
        bucket,
        "-feature-sql-storage-indexer",
        "-feature-enable-categories-cache",
        "-log-level=debug",
        database=tmp_path / "db",
        env={"EPR_SQL_INDEXER_CATEGORIES_CACHE_TTL": "1s"},
    )
    first = server.get("/categories")
    assert server.get("/categories").content == first.content
    time.sleep(1.2)
    assert server.get("/categories").content == first.content
    server.get("/search")  # /search answers are not bounded without their own flag
    eventually(lambda: len(cache_lines(server)) == 3)
    assert cache_lines(server) == [
        (ADDED, "/categories"),
        (USED, "/categories"),
        (ADDED, "/categories"),
    ]

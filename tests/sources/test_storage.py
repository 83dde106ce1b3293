"""The Package Storage v2 indexer against a real Cloud Storage emulator and S3 server.

One ``gcp-storage-emulator`` and one ``moto_server`` process (in memory, on free loopback
ports) serve the whole session; every index test runs against both, in a bucket of its
own filled with the index documents of ``tests/storage_index.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from package_registry.packages.store import bucket_store_file, open_store
from package_registry.sources.storage import (
    BucketLocation,
    StorageError,
    StorageIndex,
    open_bucket,
    parse_bucket_url,
)
from package_registry.sources.storedindex import StoredIndex
from tests.conftest import s3_client, s3_environment
from tests.storage_index import (
    NAME,
    TITLE,
    delta_add,
    delta_of,
    delta_remove,
    delta_update,
    delta_update_field_removal,
    deprecated_index,
    index_of,
    manifest,
    small_index,
)

_buckets = itertools.count()


def keys(index: StorageIndex) -> list[tuple[str, str]]:
    return [package.key for package in index.packages]


# --- the stores -----------------------------------------------------------------------------


@dataclass
class Store:
    """A fresh bucket and the ways the tests fill it."""

    scheme: str
    name: str
    #: Writes one object of the bucket: ``upload(name, data)``.
    upload: Callable[[str, bytes], None]
    root: str = ""
    #: Where ``index(sql=True)`` keeps its database.
    database: Path | None = None

    def put(self, path: str, content: bytes | dict[str, Any]) -> None:
        data = content if isinstance(content, bytes) else orjson.dumps(content)
        self.upload(f"{self.root}/{path}" if self.root else path, data)

    def cursor(self, value: str) -> None:
        self.put("v2/metadata/cursor.json", {"current": value})

    def revision(
        self,
        cursor: str,
        *,
        index: bytes | dict[str, Any] | None = None,
        delta: bytes | dict[str, Any] | None = None,
    ) -> None:
        if index is not None:
            self.put(f"v2/metadata/{cursor}/search-index-all.json", index)
        if delta is not None:
            self.put(f"v2/metadata/{cursor}/search-index-delta.json", delta)

    def index(self, *, incremental: bool = False, sql: bool = False) -> StorageIndex:
        """An index of the bucket, its client built from the environment as in the CLI;
        with ``sql``, kept in a database as the SQL storage indexer keeps it."""
        location = BucketLocation(self.scheme, self.name, self.root)
        stored = None
        if sql:
            assert self.database is not None
            url = f"{self.scheme}://{self.name}"
            path = bucket_store_file(str(self.database), url)
            opened = open_store(str(self.database), (), ("storage-index", url), path=path)
            assert opened is not None
            stored = StoredIndex(opened, 2, 0.0)
        return StorageIndex(open_bucket(location), location, incremental=incremental, stored=stored)


@pytest.fixture
def gcs_endpoint(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The emulator, which every client finds through ``STORAGE_EMULATOR_HOST``."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    return gcs_emulator


@pytest.fixture
def s3_endpoint(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The S3 server, which the client under test finds through the ``AWS_*`` variables."""
    for variable, value in s3_environment(s3_server).items():
        monkeypatch.setenv(variable, value)
    return s3_server


@pytest.fixture(params=["gs", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A new bucket in the Cloud Storage emulator or in the S3 server."""
    name = f"bucket-{next(_buckets)}"
    database = tmp_path / "database"
    if request.param == "gs":
        request.getfixturevalue("gcs_endpoint")
        gcs = storage.Client(project="test", credentials=AnonymousCredentials())
        bucket = gcs.create_bucket(name)
        return Store(
            "gs",
            name,
            lambda path, data: bucket.blob(path).upload_from_string(
                data, content_type="application/json"
            ),
            database=database,
        )
    s3 = s3_client(request.getfixturevalue("s3_endpoint"))
    s3.create_bucket(Bucket=name)
    return Store(
        "s3",
        name,
        lambda path, data: s3.put_object(Bucket=name, Key=path, Body=data),
        database=database,
    )


@pytest.fixture
def small(store: Store) -> StorageIndex:
    """An incremental index fully synced with the small index at cursor ``001``."""
    store.cursor("001")
    store.revision("001", index=small_index())
    index = store.index(incremental=True)
    assert index.update() is True
    return index


# --- bucket URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "gs://fake-package-storage-internal",
            BucketLocation("gs", "fake-package-storage-internal", ""),
        ),
        ("gs://bucket/", BucketLocation("gs", "bucket", "")),
        ("gs://bucket/some/prefix", BucketLocation("gs", "bucket", "some/prefix")),
        ("gs://bucket//some/prefix/", BucketLocation("gs", "bucket", "some/prefix")),
        ("s3://bucket", BucketLocation("s3", "bucket", "")),
        ("s3://bucket//some/prefix/", BucketLocation("s3", "bucket", "some/prefix")),
    ],
)
def test_parse_bucket_url(url: str, expected: BucketLocation) -> None:
    assert parse_bucket_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        *("", "bucket/root", "https://bucket/root", "GS://bucket", "gs:bucket", "gs://"),
        *("S3://bucket", "s3:bucket", "s3://", "az://bucket"),
    ],
)
def test_parse_bucket_url_refuses_other_urls(url: str) -> None:
    with pytest.raises(ValueError):
        parse_bucket_url(url)


# --- full sync ------------------------------------------------------------------------------


@pytest.mark.parametrize("root", ["", "some/prefix"])
@pytest.mark.parametrize("sql", [False, True], ids=["memory", "sql"])
def test_full_sync_loads_the_index_of_the_cursor(store: Store, root: str, sql: bool) -> None:
    store.root = root
    store.cursor("1")
    store.revision("1", index=small_index())
    index = store.index(sql=sql)
    assert index.cursor is None
    assert index.packages == ()

    assert index.update() is True

    assert index.cursor == "1"
    assert keys(index) == [(NAME, "0.1.1"), (NAME, "0.2.0")]
    assert all(package.files is None for package in index.packages)
    assert index.packages[1].full["title"] == TITLE


@pytest.mark.parametrize("sql", [False, True], ids=["memory", "sql"])
def test_same_cursor_changes_nothing(store: Store, sql: bool) -> None:
    store.cursor("1")
    store.revision("1", index=small_index())
    index = store.index(sql=sql)
    index.update()
    packages = index.packages

    assert index.update() is False
    assert index.packages is packages


def test_missing_cursor_file(store: Store) -> None:
    store.root = "root"
    index = store.index()
    with pytest.raises(StorageError) as caught:
        index.update()
    assert str(caught.value) == (
        "can't load latest cursor: cursor file doesn't exist, most likely a first run "
        f"(bucketName: {store.name}, path: root/v2/metadata/cursor.json): "
        "storage: object doesn't exist"
    )
    assert index.cursor is None


@pytest.mark.usefixtures("s3_endpoint")
def test_s3_errors_are_storage_errors() -> None:
    location = parse_bucket_url("s3://no-such-bucket")
    bucket = open_bucket(location)

    with pytest.raises(StorageError) as caught:
        StorageIndex(bucket, location).update()
    assert str(caught.value).startswith(
        "can't load latest cursor: can't read the cursor file (path: v2/metadata/cursor.json): "
        "An error occurred (NoSuchBucket) when calling the GetObject operation"
    )
    with pytest.raises(StorageError, match=r"^An error occurred \(NoSuchBucket\)"):
        bucket.folders("v2/metadata/")


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"current": 1}'])
def test_unreadable_cursor_file(store: Store, body: bytes) -> None:
    store.put("v2/metadata/cursor.json", body)
    with pytest.raises(StorageError, match=r"^can't load latest cursor: can't decode the cursor"):
        store.index().update()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "can't read the index file (path: v2/metadata/2/search-index-all.json): "),
        (b'{"packages": [', "unexpected error while reading index file: "),
        (b'{"packages": {}}', "expected opening array, found {"),
        (b'{"packages": "x"}', "expected opening array, found x"),
        (b"[]", "expected an object in index file, found ["),
        (
            orjson.dumps(index_of(manifest("a", "1.0"))),
            "unexpected error parsing package from index file (token: [): ",
        ),
        (
            orjson.dumps({"packages": [{"package_manifest": None}]}),
            "unexpected error parsing package from index file (token: [): ",
        ),
    ],
)
@pytest.mark.parametrize("sql", [False, True], ids=["memory", "sql"])
def test_bad_index_keeps_the_previous_state(
    store: Store, body: bytes | None, message: str, sql: bool
) -> None:
    store.cursor("1")
    store.revision("1", index=small_index())
    index = store.index(sql=sql)
    index.update()
    packages = index.packages
    store.cursor("2")
    if body is not None:
        store.revision("2", index=body)

    with pytest.raises(StorageError) as caught:
        index.update()

    assert str(caught.value).startswith("can't load the search-index-all index content: " + message)
    assert index.cursor == "1"
    assert index.packages is packages


@pytest.mark.parametrize("sql", [False, True], ids=["memory", "sql"])
def test_index_without_packages_is_empty(store: Store, sql: bool) -> None:
    store.cursor("1")
    store.revision("1", index={"other": [1, 2]})
    index = store.index(sql=sql)
    assert index.update() is True
    assert index.packages == ()


@pytest.mark.parametrize("sql", [False, True], ids=["memory", "sql"])
def test_non_incremental_mode_loads_the_full_index_of_a_new_cursor(store: Store, sql: bool) -> None:
    store.cursor("001")
    store.revision("001", index=small_index())
    index = store.index(sql=sql)
    index.update()
    store.cursor("002")
    store.revision(
        "002",
        index=index_of(manifest("other", "1.0.0")),
        delta=delta_add(),
    )

    assert index.update() is True

    assert index.cursor == "002"
    assert keys(index) == [("other", "1.0.0")]


# --- incremental sync -----------------------------------------------------------------------


@pytest.mark.parametrize("root", ["", "some/prefix"])
def test_revisions_are_applied_in_order(store: Store, root: str) -> None:
    store.root = root
    store.cursor("001")
    store.revision("000", delta=delta_of(added=(manifest("too-old", "1.0.0"),)))
    store.revision("001", index=small_index())
    index = store.index(incremental=True)
    index.update()
    # Written out of order: the folder names decide.
    store.revision("004", delta=delta_remove())
    store.revision("002", delta=delta_add())
    store.revision("003", delta=delta_update())
    store.revision("005", delta=delta_of(added=(manifest("too-new", "1.0.0"),)))
    store.cursor("004")

    assert index.update() is True

    assert index.cursor == "004"
    assert keys(index) == [(NAME, "0.2.0"), (NAME, "0.3.0")]
    assert index.packages[0].full["title"] == f"{TITLE} UPDATED"
    assert index.update() is False


def test_update_replaces_the_whole_package(small: StorageIndex, store: Store) -> None:
    assert small.packages[1].full["categories"] == ["security"]
    store.revision("002", delta=delta_update_field_removal())
    store.cursor("002")

    assert small.update() is True

    updated = small.packages[1]
    assert updated.key == (NAME, "0.2.0")
    assert "categories" not in updated.full
    assert updated.full["title"] == TITLE


def test_delta_ignores_updates_of_absent_and_additions_of_present_packages(
    small: StorageIndex, store: Store
) -> None:
    store.revision(
        "002",
        delta=delta_of(
            added=(
                manifest(NAME, "0.1.1", title="added again"),
                manifest("new", "1.0.0"),
            ),
            updated=(manifest("absent", "1.0.0"),),
            removed=(("absent", "2.0.0"),),
        ),
    )
    store.cursor("002")

    assert small.update() is True

    assert keys(small) == [(NAME, "0.1.1"), (NAME, "0.2.0"), ("new", "1.0.0")]
    assert small.packages[0].full["title"] == TITLE


def test_removed_then_added_package_moves_to_the_end(small: StorageIndex, store: Store) -> None:
    store.revision(
        "002",
        delta=delta_of(added=(manifest(NAME, "0.1.1", title="back"),), removed=((NAME, "0.1.1"),)),
    )
    store.cursor("002")

    small.update()

    assert keys(small) == [(NAME, "0.2.0"), (NAME, "0.1.1")]
    assert small.packages[1].full["title"] == "back"


@pytest.mark.parametrize("broken", [None, b"{not json", b"[]", b'{"added": [{}]}'])
def test_unusable_delta_falls_back_to_that_revisions_full_index(
    small: StorageIndex, store: Store, broken: bytes | None
) -> None:
    store.revision("002", delta=delta_add())
    store.revision("003", index=index_of(manifest("full", "1.0.0")), delta=broken)
    store.revision("004", delta=delta_of(added=(manifest("after", "1.0.0"),)))
    store.cursor("004")

    assert small.update() is True

    # Revision 002 was superseded by 003's full index.
    assert keys(small) == [("full", "1.0.0"), ("after", "1.0.0")]
    assert small.cursor == "004"


def test_missing_delta_and_full_index_fails_the_update(small: StorageIndex, store: Store) -> None:
    packages = small.packages
    store.revision("002", delta=delta_add())
    store.put("v2/metadata/003/other.json", b"{}")
    store.cursor("003")

    with pytest.raises(StorageError) as caught:
        small.update()

    assert str(caught.value) == (
        "can't load search-index-all for cursor 003: can't read the index file "
        "(path: v2/metadata/003/search-index-all.json): storage: object doesn't exist"
    )
    assert small.cursor == "001"
    assert small.packages is packages


def test_unpadded_cursors_are_never_picked_up(store: Store) -> None:
    store.cursor("9")
    store.revision("9", index=small_index())
    index = store.index(incremental=True)
    index.update()
    store.revision("10", delta=delta_add())
    store.cursor("10")

    # "10" < "9" as strings: no revision lies between them, and the cursor stays behind.
    assert index.update() is False
    assert index.update() is False
    assert index.cursor == "9"
    assert len(index.packages) == 2


def test_cursor_stops_at_the_last_revision_found(small: StorageIndex, store: Store) -> None:
    store.revision("002", delta=delta_add())
    store.cursor("003")

    assert small.update() is True
    assert small.cursor == "002"
    assert len(small.packages) == 3


# --- deprecation ----------------------------------------------------------------------------

OLD = {"since": "1.0.0", "description": "old notice"}
NEW = {"since": "2.0.0", "description": "new notice"}


def notices(index: StorageIndex) -> list[Any]:
    return [package.full.get("deprecated") for package in index.packages]


def test_notice_of_the_highest_deprecated_version_applies_to_all_versions(store: Store) -> None:
    store.cursor("001")
    store.revision(
        "001",
        index=index_of(
            manifest("p", "0.1.0"),
            manifest("p", "0.2.0", deprecated=OLD),
            manifest("p", "0.3.0"),
            manifest("q", "1.0.0"),
        ),
    )
    index = store.index(incremental=True)
    index.update()

    assert notices(index) == [OLD, OLD, OLD, None]
    assert [package.summary.get("deprecated") for package in index.packages] == notices(index)

    # A strictly higher deprecated version replaces the notice everywhere.
    store.revision("002", delta=delta_of(added=(manifest("p", "1.0.0", deprecated=NEW),)))
    store.cursor("002")
    index.update()
    assert notices(index) == [NEW, NEW, NEW, None, NEW]

    # The notice survives the removal of the version that carried it.
    store.revision("003", delta=delta_of(removed=(("p", "1.0.0"), ("p", "0.2.0"))))
    store.cursor("003")
    index.update()
    assert keys(index) == [("p", "0.1.0"), ("p", "0.3.0"), ("q", "1.0.0")]
    assert notices(index) == [NEW, NEW, None]


@pytest.mark.parametrize("sql", [False, True], ids=["memory", "sql"])
def test_notice_is_kept_across_full_syncs(store: Store, sql: bool) -> None:
    store.cursor("1")
    store.revision("1", index=deprecated_index())
    index = store.index(sql=sql)
    index.update()
    assert notices(index) == [{"since": "1.0.0", "description": ""}]

    store.cursor("2")
    store.revision("2", index=small_index())
    index.update()
    assert notices(index) == [{"since": "1.0.0", "description": ""}] * 2


def test_spread_notices_count_in_later_updates(store: Store) -> None:
    # As in the reference: 0.3.0 carries the notice spread from 0.2.0 when the next
    # update runs, so a new deprecated 0.2.5 is not higher than the map's entry.
    store.cursor("001")
    store.revision(
        "001", index=index_of(manifest("p", "0.2.0", deprecated=OLD), manifest("p", "0.3.0"))
    )
    index = store.index(incremental=True)
    index.update()
    store.revision("002", delta=delta_of(added=(manifest("p", "0.2.5", deprecated=NEW),)))
    store.cursor("002")

    index.update()

    assert notices(index) == [OLD, OLD, OLD]


def test_index_file_bucket_is_revision_one(tmp_path: Path) -> None:
    """``EPR_EMULATOR_INDEX_PATH``: one file read as revision 1, errors kept readable."""
    location = parse_bucket_url("gs://fake-package-storage-internal")
    small = tmp_path / "search-index-all.json"
    small.write_bytes(orjson.dumps(small_index()))
    index = StorageIndex(open_bucket(location, index_file=str(small)), location)
    assert index.update() is True
    assert index.cursor == "1" and len(index.packages) == 2
    assert index.update() is False
    nothing = str(tmp_path / "nothing.json")
    missing = StorageIndex(open_bucket(location, index_file=nothing), location)
    with pytest.raises(StorageError, match="failed to read index file"):
        missing.update()

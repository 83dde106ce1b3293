"""The packages of a Package Storage v2 bucket (the reference's storage indexer).

The bucket's ``v2/metadata/cursor.json`` names the current revision; each revision
folder holds the full index (``search-index-all.json``) and, for incremental updates,
the changes since the previous revision (``search-index-delta.json``). ``StorageIndex``
keeps a package list in step with the cursor, one ``update`` at a time, and spreads
deprecation notices as the reference does. Error texts are the reference's, since they
end up in logs that operators search.

The index reads the bucket through ``Bucket``, so the same logic serves Cloud Storage
(``gs://``, the reference's only store), S3 (``s3://``) and a folder on local disk
(``file://``, such as ``package-registry build --format bucket`` writes). The client libraries load
only when ``open_bucket`` builds a client, so the registry starts without them otherwise.
Every read is bounded by the outgoing timeouts (connect, read, and a total for the
read with its retries), so a stalled store fails the update instead of hanging the
poller; the last good index keeps serving.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

import orjson

from package_registry.config.outgoing import OutgoingTimeouts
from package_registry.gopath import clean_path, join_path
from package_registry.packages.files import safe_relpath
from package_registry.packages.jsonmodel import JsonModelError, package_from_json
from package_registry.packages.model import Package
from package_registry.packages.records import with_deprecation
from package_registry.packages.versions import Version
from package_registry.sources.storedindex import StoredIndex

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from google.cloud import storage

__all__ = [
    "Bucket",
    "BucketLocation",
    "GcsBucket",
    "IndexFileBucket",
    "LocalBucket",
    "S3Bucket",
    "StorageError",
    "StorageIndex",
    "open_bucket",
    "parse_bucket_url",
]

log = logging.getLogger("package_registry.storage")

_METADATA = "v2/metadata"
_INDEX_FILE = "search-index-all.json"
_DELTA_FILE = "search-index-delta.json"
#: Bytes asked of a store at a time when an index is read as a stream.
_STREAM_CHUNK = 1 << 20
#: What the Go client reports for a missing object; the reference's messages end with it.
_MISSING = "storage: object doesn't exist"

#: The URL schemes of the stores ``open_bucket`` can read.
_SCHEMES = ("gs", "s3", "file")

_Key = tuple[str, str]


class StorageError(Exception):
    """The bucket could not be read or holds something unusable; ``str`` says why."""


class _BadIndex(StorageError):
    """The index document has the wrong shape (not a bucket's failure to read it)."""


class _ObjectMissing(StorageError):
    """The object does not exist (the cursor and the delta treat that case apart)."""


@dataclass(frozen=True, slots=True)
class BucketLocation:
    """Where the metadata lives: a store, a bucket and the path prefix of every object."""

    #: Which object store holds the bucket: ``"gs"`` (Cloud Storage), ``"s3"`` or
    #: ``"file"`` (a local folder).
    scheme: str
    #: The bucket's name; for ``file``, the absolute path of the folder.
    bucket: str
    #: ``""`` or a prefix such as ``some/prefix`` (no leading or trailing ``/``).
    root: str


def parse_bucket_url(url: str) -> BucketLocation:
    """The location named by ``gs://`` or ``s3://<bucket>/<root…>``, or by
    ``file:///<absolute path>``; ``ValueError`` else."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme
    if scheme == "file":
        folder = urllib.parse.unquote(parts.path)
        if not url.startswith("file://") or parts.netloc not in ("", "localhost"):
            raise ValueError(f"not a file:///<absolute path> URL: {url!r}")
        if not folder.startswith("/") or "\x00" in folder:
            raise ValueError(f"not a file:///<absolute path> URL: {url!r}")
        return BucketLocation(scheme, clean_path(folder), "")
    if scheme not in _SCHEMES or not url.startswith(f"{scheme}://") or not parts.netloc:
        raise ValueError(f"not a gs://<bucket> or s3://<bucket> URL: {url!r}")
    return BucketLocation(scheme, parts.netloc, _object_path(parts.path))


def _object_path(*parts: str) -> str:
    """Go's ``path.Join`` without the leading ``/``, as the reference names objects."""
    return join_path(*parts).lstrip("/")


# --- object stores ----------------------------------------------------------------------------


class Bucket(Protocol):
    """The two things the index asks of an object store.

    Failures raise ``StorageError`` whose text is the client's own message; the index
    prefixes what it was doing.
    """

    def read(self, name: str) -> bytes:
        """The content of object ``name``; ``_ObjectMissing`` when there is none."""
        ...

    def folders(self, prefix: str) -> list[str]:
        """The names of the "sub-folders" directly under ``prefix`` (which ends in ``/``),
        without the prefix or the trailing ``/``."""
        ...

    def stream(self, name: str) -> Stream:
        """Object ``name`` to read a piece at a time (the SQL indexer never holds a whole
        index); its reads raise ``StorageError`` (``_ObjectMissing`` when there is none)."""
        ...


class Stream:
    """A readable object of a bucket: ``read(size)`` gives the next bytes (``b""`` at the
    end), each call bounded by the total outgoing timeout from the open, and the store's
    errors become ``StorageError`` through ``translate``."""

    def __init__(
        self,
        opener: Callable[[], IO[bytes]],
        translate: Callable[[Exception], StorageError | None],
        total: float | None = None,
    ) -> None:
        self._opener = opener
        self._raw: IO[bytes] | None = None
        self._translate = translate
        self._deadline = None if total is None else time.monotonic() + total
        self._total = total

    def read(self, size: int = -1) -> bytes:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise StorageError(f"read timeout: more than {self._total:g}s")
        try:
            if self._raw is None:  # opened on the first read: clients fail there too
                self._raw = self._opener()
            return self._raw.read(size)
        except Exception as exc:
            translated = self._translate(exc)
            if translated is None:
                raise
            raise translated from None

    def close(self) -> None:
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.close()
            self._raw = None


class GcsBucket:
    """A Cloud Storage bucket, read with ``google-cloud-storage``."""

    def __init__(
        self, client: storage.Client, name: str, timeouts: OutgoingTimeouts | None = None
    ) -> None:
        from google.cloud.storage.retry import DEFAULT_RETRY

        timeouts = timeouts or OutgoingTimeouts()
        self._client = client
        self._bucket = client.bucket(name)
        #: Per request: (connect, read) seconds; retries stop after the total.
        self._timeout = (timeouts.connect, timeouts.read)
        self._retry = DEFAULT_RETRY.with_deadline(timeouts.total)
        self._total = timeouts.total

    def read(self, name: str) -> bytes:
        from google.api_core.exceptions import NotFound

        try:
            return self._bucket.blob(name).download_as_bytes(
                timeout=self._timeout, retry=self._retry
            )
        except NotFound:
            raise _ObjectMissing(_MISSING) from None
        except _gcs_errors() as exc:
            raise StorageError(str(exc)) from None

    def folders(self, prefix: str) -> list[str]:
        try:
            listing = self._client.list_blobs(
                self._bucket, prefix=prefix, delimiter="/", timeout=self._timeout, retry=self._retry
            )
            return [
                folder[len(prefix) :].rstrip("/")
                for page in listing.pages
                for folder in page.prefixes
            ]
        except _gcs_errors() as exc:
            raise StorageError(str(exc)) from None

    def stream(self, name: str) -> Stream:
        return Stream(
            lambda: self._bucket.blob(name).open(
                "rb", chunk_size=_STREAM_CHUNK, retry=self._retry, timeout=self._timeout
            ),
            _translate_gcs,
            self._total,
        )


def _translate_gcs(exc: Exception) -> StorageError | None:
    from google.api_core.exceptions import NotFound

    if isinstance(exc, NotFound):
        return _ObjectMissing(_MISSING)
    return StorageError(str(exc)) if isinstance(exc, _gcs_errors()) else None


def _gcs_errors() -> tuple[type[Exception], ...]:
    """What a Cloud Storage call can raise: API, credential and transport errors."""
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError

    return (GoogleAPIError, GoogleAuthError, OSError)


class S3Bucket:
    """An S3 bucket (or one of an S3-compatible server such as MinIO), read with ``boto3``.

    The client's own connect and read timeouts bound each request (see ``_s3_client``);
    a body is read in chunks so that a trickling answer also stops at the total.
    """

    #: Bytes read from an object's body at a time.
    CHUNK = 1 << 20

    def __init__(
        self, client: BaseClient, name: str, timeouts: OutgoingTimeouts | None = None
    ) -> None:
        self._client = client
        self._name = name
        self._total = (timeouts or OutgoingTimeouts()).total

    def read(self, name: str) -> bytes:
        deadline = time.monotonic() + self._total
        try:
            body = self._client.get_object(Bucket=self._name, Key=name)["Body"]
            chunks = []
            with body:
                while chunk := body.read(self.CHUNK):
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise StorageError(f"read timeout: more than {self._total:g}s")
            return b"".join(chunks)
        except self._client.exceptions.NoSuchKey:
            raise _ObjectMissing(_MISSING) from None
        except _s3_errors() as exc:
            raise StorageError(str(exc)) from None

    def folders(self, prefix: str) -> list[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._name, Prefix=prefix, Delimiter="/"
        )
        try:
            return [
                folder["Prefix"][len(prefix) :].rstrip("/")
                for page in pages
                for folder in page.get("CommonPrefixes", ())
            ]
        except _s3_errors() as exc:
            raise StorageError(str(exc)) from None

    def stream(self, name: str) -> Stream:
        client = self._client

        def translate(exc: Exception) -> StorageError | None:
            if isinstance(exc, client.exceptions.NoSuchKey):
                return _ObjectMissing(_MISSING)
            return StorageError(str(exc)) if isinstance(exc, _s3_errors()) else None

        return Stream(
            lambda: client.get_object(Bucket=self._name, Key=name)["Body"], translate, self._total
        )


def _s3_errors() -> tuple[type[Exception], ...]:
    """What an S3 call can raise: API errors, credential and transport errors."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, OSError)


class IndexFileBucket:
    """The bucket ``EPR_EMULATOR_INDEX_PATH`` stands for: one index file on disk, served
    as revision ``1`` of the bucket's metadata (the reference starts a fake GCS server
    holding exactly that; reading the file directly needs no server)."""

    REVISION = "1"

    def __init__(self, path: str) -> None:
        self._path = path

    def read(self, name: str) -> bytes:
        if name == f"{_METADATA}/cursor.json":
            return orjson.dumps({"current": self.REVISION})
        if name == f"{_METADATA}/{self.REVISION}/{_INDEX_FILE}":
            try:
                with open(self._path, "rb") as handle:
                    return handle.read()
            except OSError as exc:
                raise StorageError(f"failed to read index file {self._path}: {exc}") from None
        raise _ObjectMissing(_MISSING)

    def folders(self, prefix: str) -> list[str]:
        return [self.REVISION] if prefix == f"{_METADATA}/" else []

    def stream(self, name: str) -> Stream:
        if name != f"{_METADATA}/{self.REVISION}/{_INDEX_FILE}":
            return Stream(lambda: io.BytesIO(self.read(name)), lambda _: None)

        def translate(exc: Exception) -> StorageError | None:
            if isinstance(exc, OSError):
                return StorageError(f"failed to read index file {self._path}: {exc}")
            return None

        return Stream(lambda: open(self._path, "rb"), translate)


class LocalBucket:
    """A bucket laid out in a folder on local disk (``file://``): each object is the file
    at its name under the folder. Names that would leave the folder (a cursor naming
    ``../x``) are missing objects."""

    def __init__(self, folder: str) -> None:
        self._folder = folder

    def _path(self, name: str) -> str | None:
        relative = safe_relpath(name)
        return os.path.join(self._folder, relative) if relative is not None else None

    def read(self, name: str) -> bytes:
        path = self._path(name)
        if path is None:
            raise _ObjectMissing(_MISSING)
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise _ObjectMissing(_MISSING) from None
        except OSError as exc:
            raise StorageError(str(exc)) from None

    def folders(self, prefix: str) -> list[str]:
        path = self._path(prefix.rstrip("/"))
        if path is None:
            return []
        try:
            with os.scandir(path) as entries:
                return sorted(entry.name for entry in entries if entry.is_dir())
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise StorageError(str(exc)) from None

    def stream(self, name: str) -> Stream:
        path = self._path(name)

        def opener() -> IO[bytes]:
            if path is None:
                raise FileNotFoundError(name)
            return open(path, "rb")

        return Stream(opener, _translate_local)


def _translate_local(exc: Exception) -> StorageError | None:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return _ObjectMissing(_MISSING)
    return StorageError(str(exc)) if isinstance(exc, OSError) else None


def open_bucket(
    location: BucketLocation, *, index_file: str = "", timeouts: OutgoingTimeouts | None = None
) -> Bucket:
    """A client of the bucket at ``location``, configured from the environment; with
    ``index_file`` (``EPR_EMULATOR_INDEX_PATH``), that file as the bucket's only index.

    Cloud Storage takes Application Default Credentials, or none at all when
    ``STORAGE_EMULATOR_HOST`` names a local emulator. S3 takes boto3's usual ``AWS_*``
    variables and files (``AWS_ENDPOINT_URL`` for MinIO or moto). A ``file://`` bucket
    is read straight from disk. A client that cannot
    be built (no default credentials, an unknown profile) raises ``StorageError``; a
    malformed endpoint URL, ``ValueError``. Missing S3 credentials show at the first read.
    """
    if index_file:
        return IndexFileBucket(index_file)
    timeouts = timeouts or OutgoingTimeouts()
    if location.scheme == "file":
        return LocalBucket(location.bucket)
    if location.scheme == "s3":
        return S3Bucket(_s3_client(timeouts), location.bucket, timeouts)
    return GcsBucket(_gcs_client(), location.bucket, timeouts)


def _gcs_client() -> storage.Client:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    try:
        if os.environ.get("STORAGE_EMULATOR_HOST"):  # a local emulator takes no credentials
            return storage.Client(project="package-registry", credentials=AnonymousCredentials())
        return storage.Client()
    except _gcs_errors() as exc:
        raise StorageError(str(exc)) from None


def _s3_client(timeouts: OutgoingTimeouts) -> BaseClient:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=timeouts.connect,
        read_timeout=timeouts.read,
        retries={"mode": "standard", "total_max_attempts": 3},
    )
    try:
        return boto3.client("s3", config=config)
    except _s3_errors() as exc:
        raise StorageError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class _Delta:
    """The changes of one revision, keyed by name and version."""

    added: list[Package]
    updated: dict[_Key, Package]
    removed: set[_Key]


class StorageIndex:
    """The packages of a Package Storage v2 bucket, kept in step with its cursor.

    ``update`` builds the new list aside and publishes it, with its cursor, only when
    everything loaded, so readers of ``packages`` always see a complete list.
    """

    def __init__(
        self,
        bucket: Bucket,
        location: BucketLocation,
        *,
        incremental: bool = False,
        stored: StoredIndex | None = None,
    ) -> None:
        self.location = location
        self.incremental = incremental
        #: With the SQL storage indexer: where the index's packages are kept; the index
        #: is then read as a stream, each entry stored before the next is decoded.
        self.stored = stored
        #: The loaded cursor; ``None`` before the first successful update.
        self.cursor: str | None = None
        #: The current packages in index order, deprecation notices spread.
        self.packages: tuple[Package, ...] = ()
        self._bucket = bucket
        #: Name → (version, notice) of the highest deprecated version seen; never cleared.
        self._deprecations: dict[str, tuple[Version, Any]] = {}

    def update(self) -> bool:
        """Bring the list in step with the bucket's ``cursor.json``. True when it changed.

        Raises ``StorageError`` on any failure, leaving ``cursor`` and ``packages`` as
        they were.
        """
        current = self._load_cursor()
        # The reference's cursor starts out empty, so an empty cursor file is "up to date".
        if current == (self.cursor or ""):
            return False
        if self.cursor is None or not self.incremental:
            try:
                packages = self._load_index(current)
            except StorageError as exc:
                raise StorageError(
                    f"can't load the search-index-all index content: {exc}"
                ) from None
            self._publish(current, packages)
            return True
        return self._sync_incrementally(self.cursor, current)

    def _sync_incrementally(self, old: str, new: str) -> bool:
        """Apply the revisions after ``old`` up to ``new``, each by its delta where it can.

        A revision whose delta cannot be loaded is taken whole from its full index, which
        makes every revision before it irrelevant.
        """
        revisions: list[tuple[str, list[Package] | _Delta]] = []
        for revision in self._revisions_between(old, new):
            try:
                revisions.append((revision, self._load_delta(revision)))
            except StorageError as exc:
                log.warning(
                    "failed to load delta, falling back to full sync for timestamp",
                    extra={"cursor": revision, "error.message": str(exc)},
                )
                try:
                    revisions = [(revision, self._load_index(revision))]
                except StorageError as exc:
                    raise StorageError(
                        f"can't load search-index-all for cursor {revision}: {exc}"
                    ) from None
        if not revisions:
            return False
        packages = list(self.packages)
        for _, change in revisions:
            packages = change if isinstance(change, list) else _apply_delta(packages, change)
        self._publish(revisions[-1][0], packages)
        return True

    def _publish(self, cursor: str, packages: list[Package]) -> None:
        """Spread deprecation notices over ``packages`` and make them current.

        The map is updated from the list as it stands, whose packages may carry notices
        spread by an earlier update: the reference does the same.
        """
        deprecations = self._deprecations
        for package in packages:
            notice = package.deprecated
            if notice is not None:
                latest = deprecations.get(package.name)
                if latest is None or package.semver > latest[0]:
                    deprecations[package.name] = (package.semver, notice)
        for position, package in enumerate(packages):
            latest = deprecations.get(package.name)
            if latest is not None and package.deprecated is not latest[1]:
                packages[position] = with_deprecation(package, latest[1])
        self.packages = tuple(packages)
        self.cursor = cursor

    # --- reading the bucket -------------------------------------------------------------

    def _download(self, path: str, what: str) -> bytes:
        try:
            return self._bucket.read(path)
        except StorageError as exc:
            # Keeping the type lets the callers tell a missing object from a failed read.
            raise type(exc)(f"can't read the {what} file (path: {path}): {exc}") from None

    def _load_cursor(self) -> str:
        path = _object_path(self.location.root, _METADATA, "cursor.json")
        try:
            data = self._download(path, "cursor")
        except _ObjectMissing:
            raise StorageError(
                "can't load latest cursor: cursor file doesn't exist, most likely a first run "
                f"(bucketName: {self.location.bucket}, path: {path}): {_MISSING}"
            ) from None
        except StorageError as exc:
            raise StorageError(f"can't load latest cursor: {exc}") from None
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise StorageError(
                f"can't load latest cursor: can't decode the cursor file: {exc}"
            ) from None
        current = document.get("current", "") if isinstance(document, dict) else None
        if not isinstance(current, str):
            raise StorageError(
                "can't load latest cursor: can't decode the cursor file: "
                f'expected {{"current": <string>}}, found {data[:100]!r}'
            )
        return current

    def _revisions_between(self, old: str, new: str) -> list[str]:
        """Revision folders named after ``old`` up to ``new``, compared as strings."""
        prefix = _object_path(self.location.root, _METADATA) + "/"
        try:
            names = self._bucket.folders(prefix)
        except StorageError as exc:
            raise StorageError(
                f"can't list cursors between {old} and {new}: error listing cursor folders: {exc}"
            ) from None
        return sorted(name for name in names if old < name <= new)

    def _load_index(self, cursor: str) -> list[Package]:
        path = _object_path(self.location.root, _METADATA, cursor, _INDEX_FILE)
        if self.stored is not None:
            return self._stream_index(path, self.stored)
        data = self._download(path, "index")
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise StorageError(f"unexpected error while reading index file: {exc}") from None
        if not isinstance(document, dict):
            raise StorageError(f"expected an object in index file, found {_go_token(document)}")
        entries = document.get("packages", [])
        if not isinstance(entries, list):
            raise StorageError(f"expected opening array, found {_go_token(entries)}")
        try:
            return [_decode(entry) for entry in entries]
        except JsonModelError as exc:
            raise StorageError(
                f"unexpected error parsing package from index file (token: [): {exc}"
            ) from None

    def _stream_index(self, path: str, stored: StoredIndex) -> list[Package]:
        """The index at ``path`` decoded one entry at a time into ``stored``."""
        import ijson

        stream = self._bucket.stream(path)
        try:
            return stored.load(_index_entries(self._bucket, path, stream), _decode)
        except _BadIndex:
            raise
        except StorageError as exc:
            raise type(exc)(f"can't read the index file (path: {path}): {exc}") from None
        except ijson.JSONError as exc:
            raise StorageError(f"unexpected error while reading index file: {exc}") from None
        except JsonModelError as exc:
            raise StorageError(
                f"unexpected error parsing package from index file (token: [): {exc}"
            ) from None
        finally:
            stream.close()

    def _load_delta(self, cursor: str) -> _Delta:
        path = _object_path(self.location.root, _METADATA, cursor, _DELTA_FILE)
        data = self._download(path, "delta")
        try:
            document = orjson.loads(data)
            if not isinstance(document, dict):
                raise JsonModelError(f"expected an object, found {_go_token(document)}")
            updated = [_decode(entry) for entry in _entries(document, "updated")]
            return _Delta(
                added=[_decode(entry) for entry in _entries(document, "added")],
                updated={package.key: package for package in updated},
                removed={_removed_key(entry) for entry in _entries(document, "removed")},
            )
        except (orjson.JSONDecodeError, JsonModelError) as exc:
            raise StorageError(f"can't decode the delta file: {exc}") from None


def _decode(entry: Any) -> Package:
    """The package of one ``{"package_manifest": {…}}`` entry."""
    return package_from_json(entry.get("package_manifest") if isinstance(entry, dict) else entry)


def _index_entries(bucket: Bucket, path: str, stream: Stream) -> Iterator[Any]:
    """The items of the index document's ``packages`` array, read from ``stream``.

    ijson's C backend builds each item at full speed only when it is asked for them by
    prefix, which skips anything else; so the shape checks the whole-document reader
    makes (an object, whose ``packages`` is an array) are made by reading the object
    again only when no item came out, before the empty index could be published.
    """
    import ijson

    count = 0
    for entry in ijson.items(stream, "packages.item", use_float=True, buf_size=_STREAM_CHUNK):
        count += 1
        yield entry
    if count == 0:
        again = bucket.stream(path)
        try:
            _check_shape(ijson.parse(again, buf_size=_STREAM_CHUNK))
        finally:
            again.close()


def _check_shape(events: Iterator[tuple[str, str, Any]]) -> None:
    """Raise ``StorageError`` unless the events are an object whose ``packages`` (if
    present) is an array or null."""
    _, event, value = next(events, ("", "end", None))
    if event != "start_map":
        raise _BadIndex(f"expected an object in index file, found {_event_token(event, value)}")
    for prefix, event, value in events:
        if prefix == "packages" and event not in ("map_key", "end_map"):
            if event in ("start_array", "null"):
                return
            raise _BadIndex(f"expected opening array, found {_event_token(event, value)}")


def _event_token(event: str, value: Any) -> str:
    """``_go_token`` of the value an ijson event starts."""
    return {"start_map": "{", "start_array": "["}.get(event) or _go_token(value)


def _entries(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise JsonModelError(f"{key}: expected an array, found {_go_token(value)}")
    return value


def _removed_key(entry: Any) -> _Key:
    if isinstance(entry, dict):
        name, version = entry.get("name", ""), entry.get("version", "")
        if isinstance(name, str) and isinstance(version, str):
            return name, version
    raise JsonModelError(f"removed: expected {{name, version}} strings, found {entry!r}")


def _apply_delta(packages: list[Package], delta: _Delta) -> list[Package]:
    """``packages`` with one revision's changes, as the reference applies them.

    Removed packages go, updated ones are replaced whole in place (an update for a package
    not present is ignored), added ones not already present are appended.
    """
    updated = dict(delta.updated)
    out = [updated.pop(p.key, p) for p in packages if p.key not in delta.removed]
    present = {package.key for package in out}
    out.extend(package for package in delta.added if package.key not in present)
    return out


def _go_token(value: Any) -> str:
    """The first JSON token of ``value`` as Go prints it (``%v``) in the reference's errors."""
    if isinstance(value, dict):
        return "{"
    if isinstance(value, list):
        return "["
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

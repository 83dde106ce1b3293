"""``export_bucket`` end to end: the bucket it writes, served by a real registry process
from local disk (``file://``) and from a real Cloud Storage emulator (``gs://``, with the
files relayed from a real HTTP server over the tree), answers exactly like the same
packages served from their folders and zips."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from package_registry.build.bucket import BucketError, BucketSummary, export_bucket
from package_registry.loading import load_local_packages
from package_registry.sources.storage import StorageIndex, open_bucket, parse_bucket_url
from tests.conftest import (
    EXAMPLES,
    EXECUTABLE,
    RunningRegistry,
    eventually,
    free_port,
    start_registry,
    stop,
)

#: Query strings of /search and /categories, a spread over every filter.
SEARCHES = [
    "",
    "?all=true",
    "?prerelease=true",
    "?all=true&prerelease=true",
    "?internal=true&all=true&prerelease=true",
    "?package=sample_logs",
    "?package=sample_logs&all=true&prerelease=true",
    "?package=nothing",
    "?type=integration",
    "?type=input&prerelease=true",
    "?type=content",
    "?category=custom",
    "?category=observability&all=true",
    "?kibana.version=8.10.0",
    "?kibana.version=7.0.0&prerelease=true",
    "?agent.version=8.12.0&all=true",
    "?spec.min=1.0&spec.max=3.0&prerelease=true",
    "?capabilities=observability,security",
    "?discovery=fields:host.name",
    "?experimental=true",
    "?package=sample_metrics&all=true&kibana.version=8.0.0",
    "?all=maybe",
]
CATEGORIES = [
    "",
    "?prerelease=true",
    "?include_policy_templates=true",
    "?kibana.version=8.10.0&prerelease=true",
]


def export(paths: list[Path], output: Path, **options: object) -> BucketSummary:
    """Load ``paths`` as the registry does and export them to ``output``."""
    outcome = load_local_packages(
        [str(path) for path in paths], validate=True, require_signatures=False, workers=1
    )
    return export_bucket(outcome, output, **options)  # type: ignore[arg-type]


def start(*flags: str, cwd: Path, env: dict[str, str] | None = None) -> RunningRegistry:
    """A registry over ``flags`` only (the config names an empty package folder)."""
    empty = cwd / "no-packages"
    empty.mkdir(exist_ok=True)
    config = cwd / "config.yml"
    config.write_text(f'package_paths:\n  - "{empty}"\n')
    return start_registry([f"-config={config}", "-workers=1", *flags], cwd=cwd, env=env)


def storage_flags(bucket: str, endpoint: str, *extra: str) -> list[str]:
    return [
        "-feature-storage-indexer",
        f"-storage-indexer-bucket-internal={bucket}",
        f"-storage-endpoint={endpoint}",
        "-storage-indexer-watch-interval=1s",
        *extra,
    ]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples (folders and a zip) exported once for the module."""
    output = tmp_path_factory.mktemp("bucket")
    summary = export([EXAMPLES], output)
    assert summary.rejects == [] and summary.new_revision
    return output


@pytest.fixture(scope="module")
def folders_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    directory = tmp_path_factory.mktemp("folders")
    config = directory / "config.yml"
    config.write_text(f'package_paths:\n  - "{EXAMPLES}"\n')
    server = start_registry([f"-config={config}", "-workers=1"], cwd=directory)
    yield server
    stop(server)


@pytest.fixture(scope="module")
def file_server(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    server = start(
        *storage_flags(f"file://{tree}", f"file://{tree}"),
        cwd=tmp_path_factory.mktemp("file-bucket"),
    )
    yield server
    stop(server)


@pytest.fixture(scope="module")
def http_endpoint(tree: Path) -> Iterator[str]:
    """A plain HTTP server over the tree, standing in for the public storage endpoint."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    eventually(lambda: _answers(url), timeout=10)
    yield url
    process.terminate()
    process.wait(5)


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
        return True
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def gcs_server(
    tree: Path,
    gcs_emulator: str,
    http_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningRegistry]:
    """The tree uploaded file by file to a bucket of the emulator, served as ``gs://``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
        client = storage.Client(project="test", credentials=AnonymousCredentials())
        bucket = client.create_bucket(f"built-{uuid.uuid4().hex[:12]}")
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                bucket.blob(path.relative_to(tree).as_posix()).upload_from_filename(str(path))
    server = start(
        *storage_flags(f"gs://{bucket.name}", http_endpoint),
        cwd=tmp_path_factory.mktemp("gcs-bucket"),
        env={"STORAGE_EMULATOR_HOST": gcs_emulator},
    )
    yield server
    stop(server)


def package_urls(server: RunningRegistry) -> list[str]:
    """The document, every file, the zip and signature of every package version."""
    items = server.get("/search?all=true&prerelease=true&internal=true").json()
    assert items
    urls = []
    for item in items:
        name, version = item["name"], item["version"]
        urls += [
            f"/package/{name}/{version}/",
            f"/epr/{name}/{name}-{version}.zip",
            f"/epr/{name}/{name}-{version}.zip.sig",
            f"/package/{name}/{version}/no/such/file.txt",
        ]
        with httpx.Client() as client:
            download = client.get(server.url(f"/epr/{name}/{name}-{version}.zip"))
        with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
            urls += [
                f"/package/{name}/{version}/{member.split('/', 1)[1]}"
                for member in archive.namelist()
                if not member.endswith("/")
            ]
    return urls


def assert_same(expected: RunningRegistry, actual: RunningRegistry, urls: list[str]) -> None:
    for url in urls:
        want, got = expected.get(url), actual.get(url)
        if want.status_code == 404:  # the storage answers its own 404 text
            assert got.status_code == 404, url
            continue
        assert (got.status_code, got.content) == (want.status_code, want.content), url
        if url.startswith(("/search", "/categories", "/package/")) and url.endswith("/"):
            assert got.headers["content-type"] == want.headers["content-type"], url


QUERY_URLS = [f"/search{q}" for q in SEARCHES] + [f"/categories{q}" for q in CATEGORIES]


def test_a_file_bucket_answers_like_the_folders(folders_server, file_server):
    assert_same(folders_server, file_server, QUERY_URLS)
    urls = package_urls(folders_server)
    assert_same(folders_server, file_server, urls)
    # Served from disk, files keep the registry's own content types.
    for url in urls:
        want = folders_server.get(url)
        if want.status_code == 200:
            assert file_server.get(url).headers["content-type"] == want.headers["content-type"]


def test_the_same_tree_in_cloud_storage_answers_like_the_folders(folders_server, gcs_server):
    assert_same(folders_server, gcs_server, QUERY_URLS + package_urls(folders_server))


def test_the_tree_matches_what_the_storage_index_reads(tree):
    index = StorageIndex(
        open_bucket(parse_bucket_url(f"file://{tree}")), parse_bucket_url(f"file://{tree}")
    )
    assert index.update()
    assert index.cursor == "0000000001"
    keys = [package.key for package in index.packages]
    assert keys == sorted(keys, key=lambda key: (key[0], key[1]))
    assert ("sample_metrics", "1.0.0") in keys  # the zip package
    zipped = (EXAMPLES / "sample_metrics-1.0.0.zip").read_bytes()
    assert (tree / "artifacts/packages/sample_metrics-1.0.0.zip").read_bytes() == zipped


def test_file_bucket_paths_cannot_leave_the_folder(tmp_path):
    (tmp_path / "secret").write_text("x")
    root = tmp_path / "bucket"
    (root / "v2/metadata").mkdir(parents=True)
    (root / "v2/metadata/cursor.json").write_text('{"current": "../../../secret"}')
    location = parse_bucket_url(f"file://{root}")
    index = StorageIndex(open_bucket(location), location)
    with pytest.raises(Exception, match="can't load the search-index-all index content"):
        index.update()
    with pytest.raises(ValueError):
        parse_bucket_url("file://host/path")
    with pytest.raises(ValueError):
        parse_bucket_url("file:relative")


# --- rebuilding ---------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        path.relative_to(root).as_posix(): (path.stat().st_mtime_ns, path.read_bytes())
        for path in root.rglob("*")
        if path.is_file()
    }


def test_an_unchanged_corpus_rewrites_nothing(tmp_path):
    first = export([EXAMPLES], tmp_path)
    before = snapshot(tmp_path)
    second = export([EXAMPLES], tmp_path)
    assert (second.revision, second.new_revision, second.written) == (first.revision, False, 0)
    assert snapshot(tmp_path) == before


def test_output_is_deterministic(tmp_path):
    export([EXAMPLES], tmp_path / "a")
    export([EXAMPLES], tmp_path / "b")
    a = {name: data for name, (_, data) in snapshot(tmp_path / "a").items()}
    b = {name: data for name, (_, data) in snapshot(tmp_path / "b").items()}
    assert a == b


def add_version(corpus: Path, version: str) -> None:
    """A copy of sample_logs 1.1.0 as ``version`` in ``corpus``."""
    target = corpus / "sample_logs" / version
    shutil.copytree(EXAMPLES / "sample_logs" / "1.1.0", target)
    manifest = target / "manifest.yml"
    text = manifest.read_text()
    old = next(line for line in text.splitlines() if line.startswith("version:"))
    manifest.write_text(text.replace(old, f"version: {version}"))
    changelog = target / "changelog.yml"
    changelog.write_text(
        f'- version: "{version}"\n  changes:\n    - description: Rebuilt.\n'
        "      type: enhancement\n      link: https://example.invalid/1\n" + changelog.read_text()
    )


def test_a_new_version_makes_a_revision_and_a_delta_that_a_running_registry_follows(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(EXAMPLES, corpus)
    output = tmp_path / "bucket"
    first = export([corpus], output)
    server = start(
        *storage_flags(f"file://{output}", f"file://{output}", "-feature-incremental-updates"),
        cwd=tmp_path,
    )
    try:
        assert "9.9.9" not in versions(server)
        add_version(corpus, "9.9.9")
        second = export([corpus], output)
        assert second.new_revision and second.revision == "0000000002" != first.revision
        delta = json.loads((output / "v2/metadata/0000000002/search-index-delta.json").read_bytes())
        assert [e["package_manifest"]["version"] for e in delta["added"]] == ["9.9.9"]
        assert delta["updated"] == [] and delta["removed"] == []
        eventually(lambda: "9.9.9" in versions(server))
        assert server.get("/epr/sample_logs/sample_logs-9.9.9.zip").status_code == 200
        logs = [line.get("message") for line in server.logs()]
        assert not any("falling back to full sync" in str(message) for message in logs)

        shutil.rmtree(corpus / "sample_logs" / "9.9.9")
        third = export([corpus], output)
        delta = json.loads(
            (output / f"v2/metadata/{third.revision}/search-index-delta.json").read_bytes()
        )
        assert delta["removed"] == [{"name": "sample_logs", "version": "9.9.9"}]
        eventually(lambda: "9.9.9" not in versions(server))
    finally:
        stop(server)


def versions(server: RunningRegistry) -> set[str]:
    answer = server.get("/search?package=sample_logs&all=true&prerelease=true")
    return {item["version"] for item in answer.json()}


def test_invalid_packages_are_left_out_and_reported(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(EXAMPLES / "sample_input", corpus / "sample_input")
    bad = Path(__file__).parents[1] / "data" / "bad-packages" / "no_title" / "no_title"
    shutil.copytree(bad, corpus / "no_title")
    summary = export([corpus], tmp_path / "out")
    assert summary.packages == 1 and len(summary.rejects) == 1
    assert "no_title" in summary.rejects[0].path
    assert not (tmp_path / "out/artifacts/static/no_title-1.0.0").exists()


def test_progress_is_reported_per_package(tmp_path):
    seen: list[tuple[str, str]] = []
    summary = export([EXAMPLES], tmp_path, progress=lambda package: seen.append(package.key))
    assert len(seen) == summary.packages and len(set(seen)) == len(seen)


def test_a_foreign_cursor_is_refused(tmp_path):
    (tmp_path / "v2/metadata").mkdir(parents=True)
    (tmp_path / "v2/metadata/cursor.json").write_text('{"current": "abc"}')
    with pytest.raises(BucketError, match="numbered revision"):
        export([EXAMPLES], tmp_path)
    assert not (tmp_path / "artifacts").exists()


def test_a_file_endpoint_serves_only_its_folder(file_server, tree):
    (tree.parent / "outside.txt").write_text("secret")
    for path in (
        "/package/sample_logs/1.0.0/..%2F..%2F..%2Foutside.txt",
        "/package/sample_logs/1.0.0/%2e%2e/%2e%2e/%2e%2e/outside.txt",
        "/package/sample_logs/1.0.0/docs",  # a folder
    ):
        answer = file_server.get(path, follow_redirects=True)
        assert answer.status_code in (400, 404), path  # cleaned paths redirect first
        assert b"secret" not in answer.content
    # As over HTTP, the client's headers are not passed on: a range gets the whole file.
    whole = file_server.get(
        "/epr/sample_logs/sample_logs-1.0.0.zip", headers={"range": "bytes=0-3"}
    )
    assert whole.status_code == 200 and "last-modified" in whole.headers


# --- the command line -----------------------------------------------------------------------


def build(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXECUTABLE, "build", "--format", "bucket", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_the_build_command_writes_a_bucket_and_reports_one_line(tmp_path):
    first = build("--output", str(tmp_path / "out"), str(EXAMPLES), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "6 packages, 0 invalid, revision 0000000001 (new)" in first.stderr
    assert (tmp_path / "out/v2/metadata/cursor.json").is_file()
    second = build("--output", str(tmp_path / "out"), str(EXAMPLES), cwd=tmp_path)
    assert "revision 0000000001, 0 files written" in second.stderr


def test_the_build_command_with_strict_fails_on_invalid_packages(tmp_path):
    bad = Path(__file__).parents[1] / "data" / "bad-packages" / "no_title"
    lenient = build("--output", str(tmp_path / "lenient"), str(bad), str(EXAMPLES), cwd=tmp_path)
    assert lenient.returncode == 0 and "1 invalid" in lenient.stderr
    assert "no title set for package" in lenient.stdout + lenient.stderr
    strict = build(
        "--strict", "--output", str(tmp_path / "strict"), str(bad), str(EXAMPLES), cwd=tmp_path
    )
    assert strict.returncode == 1 and "Init failed" in strict.stdout + strict.stderr
    assert not (tmp_path / "strict").exists()

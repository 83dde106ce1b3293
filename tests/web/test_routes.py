"""Every route over a real server process serving the shipped example packages."""

from __future__ import annotations

import http.client
import io
import os
import shutil
import subprocess
import tarfile
import urllib.parse
import zipfile

import pytest

from tests.conftest import EXAMPLES, RunningRegistry


def raw_request(
    server: RunningRegistry, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """Send ``path`` byte for byte (no client-side normalisation of dots or escapes)."""
    parsed = urllib.parse.urlsplit(server.base_url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def test_health_is_empty_and_uncached(examples_server):
    r = examples_server.get("/health")
    assert (r.status_code, r.content) == (200, b"")
    assert "cache-control" not in r.headers
    assert r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", ["/", "/index.json"])
def test_index_names_the_service(examples_server, path):
    r = examples_server.get(path)
    assert r.status_code == 200
    assert r.json()["service.name"] == "package-registry"
    assert isinstance(r.json()["service.version"], str)
    assert r.headers.get_list("cache-control") == ["max-age=10", "public"]
    assert r.headers["content-type"] == "application/json"
    assert r.content.endswith(b"}\n")


def test_favicon_is_an_icon(examples_server):
    r = examples_server.get("/favicon.ico")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/x-icon"
    assert r.content[:4] == b"\x00\x00\x01\x00"


def test_search_lists_newest_release_of_each_example(examples_server):
    r = examples_server.get("/search")
    assert r.status_code == 200
    versions = {p["name"]: p["version"] for p in r.json()}
    assert versions == {
        "sample_content": "1.0.0",
        "sample_input": "0.2.0",
        "sample_logs": "1.1.0",
        "sample_metrics": "1.0.0",
    }
    assert r.headers.get_list("cache-control") == ["max-age=600", "public"]


def test_search_with_prerelease_shows_the_beta(examples_server):
    r = examples_server.get("/search?package=sample_logs&prerelease=true")
    assert [p["version"] for p in r.json()] == ["1.2.0-beta1"]


def test_search_answer_has_etag_and_304_on_match(examples_server):
    first = examples_server.get("/search?category=observability")
    etag = first.headers["etag"]
    again = examples_server.get("/search?category=observability", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_search_is_gzipped_when_accepted(examples_server):
    status, headers, body = raw_request(
        examples_server, "/search?all=true", headers={"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    import gzip

    assert gzip.decompress(body).startswith(b"[\n")


def test_bad_query_value_gives_reference_400(examples_server):
    r = examples_server.get("/search?all=maybe")
    assert (r.status_code, r.text) == (400, "invalid 'all' query param: 'maybe'\n")
    assert r.headers.get_list("cache-control") == ["max-age=0", "private, no-store"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_categories_count_example_packages(examples_server):
    r = examples_server.get("/categories")
    ids = {c["id"]: c for c in r.json()}
    assert ids["web"]["parent_id"] == "observability"
    assert ids["web"]["count"] >= 1


def test_package_index_returns_the_full_document(examples_server):
    r = examples_server.get("/package/sample_logs/1.1.0/")
    assert r.status_code == 200
    doc = r.json()
    assert doc["download"] == "/epr/sample_logs/sample_logs-1.1.0.zip"
    assert doc["signature_path"] == "/epr/sample_logs/sample_logs-1.1.0.zip.sig"
    assert "/package/sample_logs/1.1.0/manifest.yml" in doc["assets"]
    assert r.headers.get_list("cache-control") == ["max-age=10", "public"]


def test_package_index_without_slash_redirects(examples_server):
    status, headers, body = raw_request(examples_server, "/package/sample_logs/1.1.0")
    assert status == 301
    assert headers["Location"] == "/package/sample_logs/1.1.0/"
    assert body == b'<a href="/package/sample_logs/1.1.0/">Moved Permanently</a>.\n\n'


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/package/sample_logs/9.9.9/", 404, "package revision not found\n"),
        ("/package/sample_logs/a.b.c/", 400, "invalid package version\n"),
        ("/package/nothing/1.0.0/", 404, "package revision not found\n"),
        ("/epr/sample_logs/sample_logs-9.9.9.zip", 404, "artifact not found\n"),
        ("/epr/sample_logs/sample_logs-a.b.zip", 400, "invalid package version\n"),
        ("/epr/sample_logs/sample_logs-9.9.9.zip.sig", 404, "signature file not found\n"),
        ("/nope", 404, "404 page not found\n"),
    ],
)
def test_missing_things_get_reference_errors(examples_server, path, status, text):
    r = examples_server.get(path)
    assert (r.status_code, r.text) == (status, text)


def test_unknown_path_404_has_no_cors(examples_server):
    assert "access-control-allow-origin" not in examples_server.get("/nope").headers


def test_static_file_has_type_last_modified_and_304(examples_server):
    r = examples_server.get("/package/sample_logs/1.1.0/docs/README.md")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/markdown; charset=utf-8"
    assert r.content == (EXAMPLES / "sample_logs/1.1.0/docs/README.md").read_bytes()
    cached = examples_server.get(
        "/package/sample_logs/1.1.0/docs/README.md",
        headers={"If-Modified-Since": r.headers["last-modified"]},
    )
    assert cached.status_code == 304


def test_manifest_is_served_as_yaml(examples_server):
    r = examples_server.get("/package/sample_logs/1.1.0/manifest.yml")
    assert r.headers["content-type"] == "text/yaml; charset=UTF-8"


def test_missing_static_file_keeps_cache_headers(examples_server):
    r = examples_server.get("/package/sample_logs/1.1.0/docs/NOPE.md")
    assert (r.status_code, r.text) == (404, "resource not found\n")
    assert r.headers.get_list("cache-control") == ["max-age=600", "public"]


def test_range_request_on_static_file(examples_server):
    r = examples_server.get(
        "/package/sample_logs/1.1.0/manifest.yml", headers={"Range": "bytes=0-9"}
    )
    assert r.status_code == 206
    assert r.content == (EXAMPLES / "sample_logs/1.1.0/manifest.yml").read_bytes()[:10]


def test_file_inside_a_zip_package_is_served(examples_server):
    r = examples_server.get("/package/sample_metrics/1.0.0/manifest.yml")
    assert r.status_code == 200
    with zipfile.ZipFile(EXAMPLES / "sample_metrics-1.0.0.zip") as archive:
        assert r.content == archive.read("sample_metrics-1.0.0/manifest.yml")
    ranged = examples_server.get(
        "/package/sample_metrics/1.0.0/manifest.yml", headers={"Range": "bytes=5-14"}
    )
    assert (ranged.status_code, ranged.content) == (206, r.content[5:15])


def test_zip_package_download_is_the_file_itself(examples_server):
    r = examples_server.get("/epr/sample_metrics/sample_metrics-1.0.0.zip")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.content == (EXAMPLES / "sample_metrics-1.0.0.zip").read_bytes()


def test_folder_package_download_is_a_reproducible_zip(examples_server):
    first = examples_server.get("/epr/sample_logs/sample_logs-1.1.0.zip")
    second = examples_server.get("/epr/sample_logs/sample_logs-1.1.0.zip")
    assert first.status_code == 200
    assert first.content == second.content
    assert "accept-ranges" not in first.headers
    assert int(first.headers["content-length"]) == len(first.content)
    names = zipfile.ZipFile(io.BytesIO(first.content)).namelist()
    assert "sample_logs-1.1.0/manifest.yml" in names
    assert "sample_logs-1.1.0/docs/" in names
    assert all(n.startswith("sample_logs-1.1.0/") for n in names)


def test_folder_download_ignores_range(examples_server):
    r = examples_server.get(
        "/epr/sample_logs/sample_logs-1.1.0.zip", headers={"Range": "bytes=0-9"}
    )
    assert r.status_code == 200


def test_signature_is_served_as_is(examples_server):
    r = examples_server.get("/epr/sample_logs/sample_logs-1.1.0.zip.sig")
    assert r.status_code == 200
    assert r.content == (EXAMPLES / "sample_logs/1.1.0.sig").read_bytes()
    zipped = examples_server.get("/epr/sample_metrics/sample_metrics-1.0.0.zip.sig")
    assert zipped.content == (EXAMPLES / "sample_metrics-1.0.0.zip.sig").read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/epr/sample_logs/sample_logs-1.1.0.tar.gz",
        "/epr/sample_metrics/sample_metrics-1.0.0.tar.gz",
    ],
)
def test_legacy_tarball_has_the_top_folder(examples_server, path):
    r = examples_server.get(path)
    assert r.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(r.content)) as archive:
        names = archive.getnames()
    top = path.rsplit("/", 1)[1].removesuffix(".tar.gz")
    assert f"{top}/manifest.yml" in names
    assert all(n.startswith(top + "/") or n == top for n in names)


@pytest.mark.parametrize("method", ["POST", "OPTIONS", "DELETE"])
def test_every_method_is_answered_like_get(examples_server, method):
    status, _, body = raw_request(examples_server, "/search?package=sample_input", method=method)
    assert status == 200
    assert b'"sample_input"' in body


def test_head_has_headers_and_no_body(examples_server):
    status, headers, body = raw_request(
        examples_server, "/epr/sample_metrics/sample_metrics-1.0.0.zip", method="HEAD"
    )
    assert status == 200
    assert int(headers["Content-Length"]) > 0
    assert body == b""


@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")
@pytest.mark.parametrize(
    "path",
    ["/epr/sample_logs/sample_logs-1.1.0.zip", "/epr/sample_metrics/sample_metrics-1.0.0.zip"],
)
def test_downloads_verify_against_their_signatures(examples_server, tmp_path, path):
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        ["gpg", "--batch", "--quiet", "--import", str(EXAMPLES / "KEYS.asc")],
        env=env,
        check=True,
        capture_output=True,
    )
    (tmp_path / "package.zip").write_bytes(examples_server.get(path).content)
    (tmp_path / "package.zip.sig").write_bytes(examples_server.get(path + ".sig").content)
    verified = subprocess.run(
        [
            "gpg",
            "--batch",
            "--verify",
            str(tmp_path / "package.zip.sig"),
            str(tmp_path / "package.zip"),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stderr

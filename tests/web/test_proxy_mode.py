"""Proxy mode end to end: a registry proxying to another instance of this registry.

The upstream serves the shipped examples; the proxying registry serves a few local
packages: ``sample_logs`` 1.1.0 with another title (so it shadows the upstream's copy)
and ``sample_input`` 0.3.0 (newer than the upstream's 0.2.0).
"""

from __future__ import annotations

import asyncio
import http.server
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from package_registry.sources.proxy import BACKOFF_SCALE_VARIABLE
from tests.conftest import EXAMPLES, EXECUTABLE, Factory, RunningRegistry
from tests.faultserver import FaultServer

FAST_RETRIES = {BACKOFF_SCALE_VARIABLE: "0.001"}
CACHE_TIMES = "cache_time.search: 1s\ncache_time.categories: 1s\ncache_time.catch_all: 7s\n"


def proxy_flags(upstream: str) -> list[str]:
    return [
        "-feature-proxy-mode=true",
        f"-proxy-to={upstream}",
        "-proxy-allow-insecure=true",
        "-require-package-signatures=false",
    ]


def local_packages(root: Path) -> Path:
    """``sample_logs`` 1.1.0 retitled, and ``sample_input`` moved to 0.3.0."""
    logs = root / "sample_logs" / "1.1.0"
    shutil.copytree(EXAMPLES / "sample_logs" / "1.1.0", logs)
    manifest = logs / "manifest.yml"
    manifest.write_text(
        manifest.read_text().replace("title: Sample Logs", "title: Local Sample Logs", 1)
    )
    inputs = root / "sample_input" / "0.3.0"
    shutil.copytree(EXAMPLES / "sample_input" / "0.2.0", inputs)
    manifest = inputs / "manifest.yml"
    manifest.write_text(manifest.read_text().replace("version: 0.2.0", "version: 0.3.0", 1))
    return root


@pytest.fixture
def pair(registry: Factory, tmp_path: Path) -> tuple[RunningRegistry, RunningRegistry]:
    """(upstream, proxy): the proxy with two workers, so each forked worker has its client."""
    upstream = registry([EXAMPLES], ["-workers=1"])
    local = local_packages(tmp_path / "local")
    proxy = registry(
        [local],
        [*proxy_flags(upstream.base_url), "-workers=2"],
        config_extra=CACHE_TIMES,
        env=FAST_RETRIES,
    )
    return upstream, proxy


def versions(answer: httpx.Response) -> list[tuple[str, str]]:
    return [(item["name"], item["version"]) for item in answer.json()]


def by_key(answer: httpx.Response) -> dict[tuple[str, str], dict]:  # type: ignore[type-arg]
    return {(item["name"], item["version"]): item for item in answer.json()}


def test_search_joins_local_and_upstream_latest_per_name(pair):
    upstream, proxy = pair
    answer = proxy.get("/search")
    assert answer.status_code == 200
    assert answer.headers.get_list("cache-control") == ["max-age=1", "public"]
    assert answer.headers["content-type"] == "application/json"
    assert versions(answer) == [
        ("sample_content", "1.0.0"),
        ("sample_input", "0.3.0"),
        ("sample_logs", "1.1.0"),
        ("sample_metrics", "1.0.0"),
    ]
    items = by_key(answer)
    assert items[("sample_logs", "1.1.0")]["title"] == "Local Sample Logs"  # local wins
    remote = by_key(upstream.get("/search"))
    for key in [("sample_content", "1.0.0"), ("sample_metrics", "1.0.0")]:
        assert items[key] == remote[key]  # upstream items kept whole (signature_path too)
        assert items[key]["signature_path"].endswith(".zip.sig")


def test_search_all_keeps_every_version_once(pair):
    _, proxy = pair
    answer = proxy.get("/search?all=true")
    assert versions(answer) == [
        ("sample_content", "1.0.0"),
        ("sample_input", "0.2.0"),
        ("sample_input", "0.3.0"),
        ("sample_logs", "1.0.0"),
        ("sample_logs", "1.1.0"),
        ("sample_metrics", "1.0.0"),
    ]
    assert by_key(answer)[("sample_logs", "1.1.0")]["title"] == "Local Sample Logs"


def test_search_passes_the_query_upstream(pair):
    _, proxy = pair
    answer = proxy.get("/search?package=sample_logs&prerelease=true")
    assert versions(answer) == [("sample_logs", "1.2.0-beta1")]  # only upstream has it
    assert versions(proxy.get("/search?package=sample_input")) == [("sample_input", "0.3.0")]
    assert proxy.get("/search?package=nothing_like_it").content == b"[]"


def test_search_answer_is_cached_with_an_etag(pair):
    _, proxy = pair
    first = proxy.get("/search?type=integration")
    again = proxy.get("/search?type=integration", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert proxy.get("/search?prerelease=bad").status_code == 400  # local errors first


def test_categories_add_upstream_counts(pair, registry, tmp_path):
    upstream, proxy = pair
    local_only = registry([tmp_path / "local"], ["-workers=1", "-require-package-signatures=false"])
    for query in ("", "?include_policy_templates=true", "?kibana.version=8.0.0"):
        expected: dict[str, dict] = {}  # type: ignore[type-arg]
        for item in upstream.get("/categories" + query).json():
            expected[item["id"]] = item
        for item in local_only.get("/categories" + query).json():
            if item["id"] in expected:
                expected[item["id"]]["count"] += item["count"]
            else:
                expected[item["id"]] = item
        answer = proxy.get("/categories" + query)
        assert answer.status_code == 200
        assert answer.headers.get_list("cache-control") == ["max-age=1", "public"]
        assert answer.json() == [expected[key] for key in sorted(expected)], query


def test_package_index_falls_back_to_the_upstream(pair):
    upstream, proxy = pair
    local = proxy.get("/package/sample_logs/1.1.0/")
    assert local.json()["title"] == "Local Sample Logs"
    remote = proxy.get("/package/sample_metrics/1.0.0/")
    assert remote.status_code == 200
    assert remote.content == upstream.get("/package/sample_metrics/1.0.0/").content
    assert remote.headers.get_list("cache-control") == ["max-age=10", "public"]
    assert remote.headers["content-type"] == "application/json"
    missing = proxy.get("/package/sample_metrics/9.9.9/")
    assert (missing.status_code, missing.text) == (404, "package revision not found\n")
    assert proxy.get("/package/sample_metrics/v1/").status_code == 400


@pytest.mark.parametrize(
    ("path", "target"),
    [
        (
            "/package/sample_metrics/1.0.0/docs/README.md",
            "/package/sample_metrics/1.0.0/docs/README.md",
        ),
        ("/epr/sample_metrics/sample_metrics-1.0.0.zip", "/epr/package/sample_metrics-1.0.0.zip"),
        (
            "/epr/sample_metrics/sample_metrics-1.0.0.zip.sig",
            "/epr/package/sample_metrics-1.0.0.zip.sig",
        ),
        (
            "/epr/sample_content/sample_content-1.0.0.tar.gz",
            "/epr/package/sample_content-1.0.0.tar.gz",
        ),
    ],
)
def test_files_and_downloads_of_upstream_packages_redirect(pair, path, target):
    upstream, proxy = pair
    answer = proxy.get(path)
    location = upstream.base_url + target
    assert answer.status_code == 301
    assert answer.headers["location"] == location
    assert answer.headers.get_list("cache-control") == ["max-age=7", "public"]
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.text == f'<a href="{location}">Moved Permanently</a>.\n\n'
    head = httpx.head(proxy.url(path), timeout=10)
    assert (head.status_code, head.content) == (301, b"")
    followed = proxy.get(path, follow_redirects=True)
    assert followed.status_code == 200
    assert followed.content == upstream.get(target).content


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/package/nothing_like_it/1.0.0/docs/README.md", "package revision not found"),
        ("/epr/nothing_like_it/nothing_like_it-1.0.0.zip", "artifact not found"),
        ("/epr/nothing_like_it/nothing_like_it-1.0.0.zip.sig", "signature file not found"),
    ],
)
def test_packages_found_nowhere_are_not_found(pair, path, message):
    _, proxy = pair
    answer = proxy.get(path)
    assert (answer.status_code, answer.text) == (404, message + "\n")


def test_local_files_are_still_served_locally(pair):
    _, proxy = pair
    readme = proxy.get("/package/sample_logs/1.1.0/docs/README.md")
    assert readme.status_code == 200
    download = proxy.get("/epr/sample_logs/sample_logs-1.1.0.zip")
    assert (download.status_code, download.headers["content-type"]) == (200, "application/zip")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_upstream_down_is_an_internal_error_and_local_routes_still_work(registry, tmp_path):
    local = local_packages(tmp_path / "local")
    proxy = registry(
        [local],
        [*proxy_flags(f"http://127.0.0.1:{_closed_port()}"), "-workers=1"],
        env=FAST_RETRIES,
    )
    for path in (
        "/search",
        "/categories",
        "/package/sample_metrics/1.0.0/",
        "/epr/sample_metrics/sample_metrics-1.0.0.zip",
    ):
        answer = proxy.get(path)
        assert (answer.status_code, answer.text) == (500, "internal server error\n"), path
        assert "cache-control" not in answer.headers
    assert proxy.get("/package/sample_logs/1.1.0/").json()["title"] == "Local Sample Logs"
    assert proxy.get("/epr/sample_logs/sample_logs-1.1.0.zip").status_code == 200
    assert proxy.get("/health").status_code == 200
    assert proxy.get("/search?prerelease=bad").status_code == 400
    failures = [line for line in proxy.logs() if line.get("message") == "proxy mode: search failed"]
    assert failures and "ConnectError" in str(failures[0].get("error", failures[0]))


class _HtmlHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = b"<html>maintenance</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def html_upstream() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_HtmlHandler,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_upstream_answering_html_is_retried_then_an_error(registry, tmp_path, html_upstream):
    base, hits = html_upstream
    proxy = registry(
        [local_packages(tmp_path / "local")], [*proxy_flags(base), "-workers=1"], env=FAST_RETRIES
    )
    answer = proxy.get("/search?package=sample_logs")
    assert (answer.status_code, answer.text) == (500, "internal server error\n")
    assert hits == ["/search?package=sample_logs"] * 5


def test_no_local_packages_are_fine_in_proxy_mode(registry, tmp_path):
    upstream = registry([EXAMPLES], ["-workers=1"])
    empty = tmp_path / "empty"
    empty.mkdir()
    proxy = registry([empty], [*proxy_flags(upstream.base_url), "-workers=1"])
    assert proxy.get("/search").json() == upstream.get("/search").json()
    messages = [line.get("message") for line in proxy.logs()]
    assert "No local packages found, but the proxy mode can access remote ones." in messages
    assert (
        "Technical preview: Proxy mode is an experimental feature and it may be unstable."
        in messages
    )


def test_plain_http_upstream_needs_allow_insecure(tmp_path):
    result = subprocess.run(
        [
            EXECUTABLE,
            "-feature-proxy-mode=true",
            "-proxy-to=http://127.0.0.1:9",
            f"-config={tmp_path / 'none.yml'}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert (
        '-proxy-to must use HTTPS (got "http://127.0.0.1:9"); use -proxy-allow-insecure to '
        "allow HTTP"
    ) in result.stderr


# --- a proxy upstream that stalls or is slow ----------------------------------------------


@pytest.fixture
def stalling() -> Iterator[FaultServer]:
    with FaultServer("stall") as server:
        yield server


def test_a_stalled_upstream_fails_within_the_outgoing_total_timeout(registry, tmp_path, stalling):
    proxy = registry(
        [local_packages(tmp_path / "local")],
        [
            *proxy_flags(stalling.url),
            "-workers=1",
            "-outgoing-read-timeout=1s",
            "-outgoing-total-timeout=3s",
        ],
    )
    started = time.monotonic()
    answer = proxy.get("/search")
    assert (answer.status_code, answer.text) == (500, "internal server error\n")
    assert time.monotonic() - started < 6
    # Local answers never wait for the upstream.
    assert proxy.get("/package/sample_logs/1.1.0/").json()["title"] == "Local Sample Logs"
    assert proxy.get("/health").status_code == 200


def test_a_down_upstream_fails_within_the_outgoing_total_timeout(registry, tmp_path):
    proxy = registry(
        [local_packages(tmp_path / "local")],
        [
            *proxy_flags(f"http://127.0.0.1:{_closed_port()}"),
            "-workers=1",
            "-outgoing-total-timeout=2s",
        ],
    )
    started = time.monotonic()
    answer = proxy.get("/categories")
    assert (answer.status_code, answer.text) == (500, "internal server error\n")
    assert time.monotonic() - started < 4


def test_identical_concurrent_requests_share_one_upstream_call(registry, tmp_path):
    with FaultServer("slow") as slow:
        proxy = registry(
            [local_packages(tmp_path / "local")], [*proxy_flags(slow.url), "-workers=1"]
        )

        async def burst(path: str) -> list[int]:
            async with httpx.AsyncClient(timeout=10) as client:
                answers = await asyncio.gather(*(client.get(proxy.url(path)) for _ in range(50)))
            return [answer.status_code for answer in answers]

        assert asyncio.run(burst("/search?package=sample_logs")) == [200] * 50
        assert slow.requests["search"] == 1
        assert asyncio.run(burst("/categories")) == [200] * 50
        assert slow.requests["categories"] == 1

"""The proxy-mode upstream client and the decoding of upstream JSON into packages.

The client is exercised against a small scripted HTTP server on loopback (the standard
library's), so retries, redirects and timeouts go over real sockets.
"""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson
import pytest

from package_registry.loading import load_local_packages
from package_registry.packages.jsonmodel import (
    JsonModelError,
    decode_categories,
    decode_package,
    decode_packages,
    package_from_json,
)
from package_registry.packages.render import render_json
from package_registry.sources.proxy import (
    BACKOFF_SCALE_VARIABLE,
    RetryPolicy,
    Upstream,
    UpstreamError,
    backoff_scale,
)
from tests.conftest import EXAMPLES
from tests.corpus import VERSIONS, small_corpus

FAST = RetryPolicy(backoff_min=0.001, backoff_max=0.01, timeout=2.0)

# --- a scripted upstream ------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"[]"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0


@dataclass
class Script:
    """Replies given in order (the last one repeats); every request path is recorded."""

    replies: list[Reply]
    paths: list[str] = field(default_factory=list)

    def next(self, path: str) -> Reply:
        self.paths.append(path)
        return self.replies[min(len(self.paths), len(self.replies)) - 1]


class _Handler(http.server.BaseHTTPRequestHandler):
    script: Script

    def do_GET(self) -> None:
        reply = self.script.next(self.path)
        if reply.delay:
            threading.Event().wait(reply.delay)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, Script]]:
    script = Script([Reply()])
    handler = type("Handler", (_Handler,), {"script": script})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}", script
    finally:
        server.shutdown()
        server.server_close()


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _ask(upstream: Upstream, what: str, *args: str):  # type: ignore[no-untyped-def]
    try:
        return await getattr(upstream, what)(*args)
    finally:
        await upstream.aclose()


SEARCH_ITEM = {
    "name": "nginx",
    "title": "Nginx",
    "version": "1.15.0",
    "description": "Nginx logs.",
    "type": "integration",
    "download": "/epr/nginx/nginx-1.15.0.zip",
    "path": "/package/nginx/1.15.0",
    "signature_path": "/epr/nginx/nginx-1.15.0.zip.sig",
}

# --- the client ---------------------------------------------------------------------------


def test_search_sends_path_and_raw_query_to_the_origin(scripted):
    base, script = scripted
    script.replies = [Reply(body=orjson.dumps([SEARCH_ITEM]))]
    upstream = Upstream(base + "/some/prefix/", FAST)
    packages = run(_ask(upstream, "search", "kibana.version=8.15.0&all=true"))
    assert [p.key for p in packages] == [("nginx", "1.15.0")]
    assert packages[0].files is None
    assert script.paths == ["/search?kibana.version=8.15.0&all=true"]


def test_categories_without_query_asks_the_bare_path(scripted):
    base, script = scripted
    script.replies = [Reply(body=b'[{"id": "web", "title": "Web", "count": 2}]')]
    assert run(_ask(Upstream(base, FAST), "categories", "")) == [("web", "Web", 2, "", "")]
    assert script.paths == ["/categories"]


def test_package_found_missing_and_failing(scripted):
    base, script = scripted
    script.replies = [Reply(body=orjson.dumps(SEARCH_ITEM))]
    package = run(_ask(Upstream(base, FAST), "package", "nginx", "1.15.0"))
    assert package is not None and package.summary["signature_path"].endswith(".sig")
    assert script.paths == ["/package/nginx/1.15.0/"]

    script.paths.clear()
    script.replies = [Reply(404, b"package revision not found\n", {"Content-Type": "text/plain"})]
    assert run(_ask(Upstream(base, FAST), "package", "nginx", "9.9.9")) is None
    assert len(script.paths) == 1  # a 404 is final

    script.replies = [Reply(400, b"invalid package version\n", {"Content-Type": "text/plain"})]
    with pytest.raises(UpstreamError, match="status 400"):
        run(_ask(Upstream(base, FAST), "package", "nginx", "1.0.0"))


def test_server_errors_are_retried_until_an_answer_comes(scripted):
    base, script = scripted
    script.replies = [Reply(503, b"busy"), Reply(502, b"bad"), Reply(body=b"[]")]
    assert run(_ask(Upstream(base, FAST), "search", "")) == []
    assert len(script.paths) == 3


def test_not_implemented_is_not_retried(scripted):
    base, script = scripted
    script.replies = [Reply(501, b"no")]
    with pytest.raises(UpstreamError, match="status 501"):
        run(_ask(Upstream(base, FAST), "search", ""))
    assert len(script.paths) == 1


def test_non_json_success_is_retried_then_fails(scripted):
    base, script = scripted
    script.replies = [Reply(body=b"<html></html>", headers={"Content-Type": "text/html"})]
    with pytest.raises(UpstreamError, match=r"giving up after 5 attempts: .*text/html"):
        run(_ask(Upstream(base, FAST), "search", ""))
    assert len(script.paths) == 5


def test_redirects_are_followed(scripted):
    base, script = scripted
    script.replies = [
        Reply(302, b"", {"Location": "/elsewhere/search"}),
        Reply(body=orjson.dumps([SEARCH_ITEM])),
    ]
    assert len(run(_ask(Upstream(base, FAST), "search", ""))) == 1
    assert script.paths == ["/search", "/elsewhere/search"]


def test_slow_attempts_time_out_and_are_retried(scripted):
    base, script = scripted
    script.replies = [Reply(delay=1.0), Reply(body=b"[]")]
    policy = RetryPolicy(backoff_min=0.001, backoff_max=0.01, timeout=0.3)
    assert run(_ask(Upstream(base, policy), "search", "")) == []
    assert len(script.paths) == 2


def test_the_total_deadline_bounds_an_attempt_in_flight(scripted):
    base, script = scripted
    script.replies = [Reply(delay=5.0)]
    policy = RetryPolicy(backoff_min=0.001, backoff_max=0.01, timeout=10.0, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="giving up after"):
        run(_ask(Upstream(base, policy), "search", ""))
    assert time.monotonic() - started < 2.5


def test_identical_calls_in_flight_are_one_request(scripted):
    base, script = scripted
    script.replies = [Reply(body=orjson.dumps([SEARCH_ITEM]), delay=0.3)]

    async def scenario() -> None:
        upstream = Upstream(base, FAST)
        try:
            same = [asyncio.ensure_future(upstream.search("package=nginx")) for _ in range(20)]
            other = asyncio.ensure_future(upstream.search("package=other"))
            await asyncio.sleep(0.1)
            same[0].cancel()  # a client that leaves does not cancel the call for the rest
            results = await asyncio.gather(*same[1:], other)
            assert all(len(result) == 1 for result in results)
            assert sorted(script.paths) == ["/search?package=nginx", "/search?package=other"]
            await upstream.search("package=nginx")  # done calls are not remembered
            assert len(script.paths) == 3
        finally:
            await upstream.aclose()

    run(scenario())


def test_connection_refused_fails_after_every_retry():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UpstreamError, match="giving up after 5 attempts: ConnectError"):
        run(_ask(Upstream(f"http://127.0.0.1:{port}", FAST), "search", ""))


def test_invalid_json_and_bad_versions_fail_the_whole_answer(scripted):
    base, script = scripted
    script.replies = [Reply(body=b"[{")]
    with pytest.raises(UpstreamError, match="invalid JSON"):
        run(_ask(Upstream(base, FAST), "search", ""))
    script.replies = [Reply(body=orjson.dumps([SEARCH_ITEM, {**SEARCH_ITEM, "version": "v1.0"}]))]
    with pytest.raises(UpstreamError, match="invalid package version"):
        run(_ask(Upstream(base, FAST), "search", ""))


def test_back_off_doubles_up_to_the_cap_and_honours_retry_after():
    policy = RetryPolicy()
    assert [policy.backoff(n, None) for n in range(6)] == [1, 2, 4, 8, 15, 15]
    assert policy.backoff(0, 3.0) == 3.0
    assert policy.backoff(0, 600.0) == 15.0  # bounded even when asked to wait longer
    assert policy.scaled(0.5).backoff(1, None) == 1.0


def test_back_off_scale_comes_from_the_environment():
    assert backoff_scale({}) == 1.0
    assert backoff_scale({BACKOFF_SCALE_VARIABLE: "0.01"}) == 0.01
    assert backoff_scale({BACKOFF_SCALE_VARIABLE: "soon"}) == 1.0


def test_redirect_targets_use_the_origin_without_credentials():
    upstream = Upstream("https://user:secret@epr.example.com:8443/prefix/")
    assert upstream.origin == "https://user:secret@epr.example.com:8443"
    assert (
        upstream.file_url("nginx", "1.0.0", "docs/READ ME.md")
        == "https://epr.example.com:8443/package/nginx/1.0.0/docs/READ%20ME.md"
    )
    assert (
        upstream.download_url("nginx", "1.0.0", ".zip.sig")
        == "https://epr.example.com:8443/epr/package/nginx-1.0.0.zip.sig"
    )


# --- decoding -----------------------------------------------------------------------------


def test_decoding_drops_unknown_keys_and_restores_the_reference_order():
    item = {
        "zzz": 1,
        "signature_path": "/epr/x/x-1.0.0.zip.sig",
        "version": "1.0.0",
        "name": "x",
        "categories": ["web", "no_such_category"],
        "policy_templates": [
            {"title": "T", "name": "t", "description": "D", "inputs": [{"type": "logfile"}]}
        ],
        "internal": True,
    }
    package = package_from_json(item)
    assert list(package.summary) == [
        "name",
        "version",
        "description",
        "type",
        "download",
        "path",
        "policy_templates",
        "categories",
        "signature_path",
    ]
    # the /search view of a policy template has no inputs
    assert package.summary["policy_templates"] == [{"name": "t", "title": "T", "description": "D"}]
    assert package.categories == ("web", "no_such_category")
    # "internal" is not written back, but hides the package as a local internal one
    assert package.internal is True


def test_free_form_values_are_go_float64_with_sorted_keys():
    doc = {
        "name": "x",
        "version": "1.0.0",
        "vars": [{"name": "v", "type": "text", "default": {"b": 1.0, "a": [2, 2.5, 2**60 + 1]}}],
    }
    rendered = render_json(package_from_json(doc).full)
    assert b'"default": {\n        "a": [\n          2,\n          2.5,\n' in rendered
    assert b"1152921504606847000" in rendered  # float64 precision, Go's shortest digits
    assert rendered.index(b'"a"') < rendered.index(b'"b"')


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": "1.0"}, "invalid package version"),
        ({"conditions": {"kibana": {"version": "^^8"}}}, "invalid Kibana versions range"),
        ({"format_version": "3"}, "invalid format spec version"),
        ({"title": 5}, "cannot unmarshal number"),
        ({"categories": "web"}, "cannot unmarshal string"),
    ],
)
def test_decoding_failures(change, message):
    with pytest.raises(JsonModelError, match=message):
        package_from_json({**SEARCH_ITEM, **change})


def test_answers_must_have_the_right_shape():
    with pytest.raises(JsonModelError, match="cannot unmarshal object"):
        decode_packages(b"{}")
    with pytest.raises(JsonModelError, match="cannot unmarshal number"):
        decode_categories(b'[{"id": "web", "count": 1.5}]')
    assert decode_categories(b'[{"id": "x", "extra": true}]') == [("x", "", 0, "", "")]


def local_packages(*paths: object) -> list:  # type: ignore[type-arg]
    outcome = load_local_packages(
        [str(p) for p in paths], validate=True, require_signatures=False, workers=1
    )
    return [package for source in outcome.sources for package in source]


def round_trip(packages: list) -> None:  # type: ignore[type-arg]
    assert packages
    for package in packages:
        from_full = decode_package(render_json(package.full))
        assert render_json(from_full.full) == render_json(package.full), package.key
        assert render_json(from_full.summary) == render_json(package.summary), package.key
        from_item = decode_packages(b"[" + render_json(package.summary) + b"]")[0]
        assert render_json(from_item.summary) == render_json(package.summary), package.key
        assert (from_item.kibana, from_item.categories) == (package.kibana, package.categories)


def test_documents_of_the_examples_decode_to_the_same_bytes():
    round_trip(local_packages(EXAMPLES))


@pytest.fixture(scope="module")
def corpus_packages(tmp_path_factory: pytest.TempPathFactory) -> list:  # type: ignore[type-arg]
    """Every version of the small generated corpus, by key (zips give the same documents:
    ``tests/sources/test_zips.py``)."""
    folders = small_corpus(tmp_path_factory.mktemp("corpus") / "folders", zipped=False)
    return sorted(local_packages(folders), key=lambda package: package.key)


@pytest.mark.parametrize("index", range(VERSIONS))
def test_documents_of_the_generated_corpus_decode_to_the_same_bytes(
    corpus_packages: list,
    index: int,  # type: ignore[type-arg]
) -> None:
    round_trip([corpus_packages[index]])

"""Client bytes that are not UTF-8, or not what a parameter expects, over a real server.

Go's ``url.ParseQuery`` keeps undecodable bytes as they are and each parameter's parser
then refuses them with its usual 400 text, the bytes written back raw (or as ``\\xHH``
where the reference quotes with ``%q``). Nothing a client sends may give a 5xx.
"""

from __future__ import annotations

import http.client
import shutil
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLES, RunningRegistry, start_registry, stop, write_config


def raw_get(
    server: RunningRegistry, target: bytes, headers: list[tuple[bytes, bytes]] = ()
) -> tuple[int, bytes]:
    """Send ``target`` and ``headers`` byte for byte; return status and body."""
    parsed = urllib.parse.urlsplit(server.base_url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        conn.putrequest("GET", target.decode("latin-1"), skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name.decode("latin-1"), value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


INVALID_UTF8 = [
    pytest.param(
        b"/search?kibana.version=%ff%fe",
        b"invalid Kibana version '\xff\xfe': invalid semantic version\n",
        id="search-kibana",
    ),
    pytest.param(
        b"/categories?kibana.version=%80",
        b"invalid Kibana version '\x80': invalid semantic version\n",
        id="categories-kibana",
    ),
    pytest.param(
        b"/search?agent.version=%c3",
        b"invalid agent version '\xc3': invalid semantic version\n",
        id="agent",
    ),
    pytest.param(
        b"/search?spec.min=%ff",
        b"invalid 'spec.min' version: invalid version '\xff': it should be <major.version>\n",
        id="spec-min-parts",
    ),
    pytest.param(
        b"/categories?spec.max=1.%ff",
        b"invalid 'spec.max' version: invalid spec version '1.\xff': invalid semantic version\n",
        id="spec-max-semver",
    ),
    pytest.param(
        b"/search?prerelease=%ff", b"invalid 'prerelease' query param: '\xff'\n", id="prerelease"
    ),
    pytest.param(b"/search?all=%e2%82", b"invalid 'all' query param: '\xe2\x82'\n", id="all"),
    pytest.param(
        b"/categories?experimental=%fe",
        b"invalid 'experimental' query param: '\xfe'\n",
        id="experimental",
    ),
    pytest.param(
        b"/categories?include_policy_templates=%ff",
        b"invalid 'include_policy_templates' query param: '\xff'\n",
        id="include-policy-templates",
    ),
    pytest.param(
        b"/search?discovery=%ff",
        b"invalid 'discovery' query param: '\xff': could not parse filter \"\\xff\"\n",
        id="discovery-no-colon",
    ),
    pytest.param(
        b"/search?discovery=x%ff:a",
        b"invalid 'discovery' query param: 'x\xff:a': unknown discovery filter \"x\\xff\"\n",
        id="discovery-kind",
    ),
]


@pytest.mark.parametrize(("target", "body"), INVALID_UTF8)
def test_invalid_utf8_in_a_query_value_gets_the_parameters_400(examples_server, target, body):
    assert raw_get(examples_server, target) == (400, body)


@pytest.mark.parametrize(
    "target",
    [
        b"/search?package=%ff",
        b"/search?category=%ff%fe",
        b"/search?type=%c3",
        b"/search?capabilities=%ff",
        b"/search?internal=%ff",
        b"/categories?capabilities=%80,%81",
        b"/search?%ff=1",
    ],
)
def test_invalid_utf8_in_string_parameters_just_matches_nothing(examples_server, target):
    status, _ = raw_get(examples_server, target)
    assert status == 200


def test_unknown_parameter_with_invalid_utf8_is_quoted_like_go(registry):
    server = registry(flags=["-allow-unknown-query-parameters=false"])
    assert raw_get(server, b"/search?%ff%fe=1") == (
        400,
        b'unknown query parameter: "\\xff\\xfe"\n',
    )


@pytest.mark.parametrize(
    "target",
    [
        b"/package/%ff/1.0.0/",
        b"/package/sample_metrics/1.0.0/%ff",
        b"/package/sample_metrics/1.0.0/docs/%ff%fe.md",
        b"/package/sample_content/%ff/",
        b"/epr/%ff/sample_metrics-1.0.0.zip",
        b"/epr/sample_metrics/sample_metrics-%ff.zip.sig",
        b"/%ff%fe",
        b"/search/%ff",
    ],
)
def test_invalid_utf8_in_paths_is_never_a_server_error(examples_server, target):
    status, _ = raw_get(examples_server, target)
    assert status in (200, 301, 400, 404)


@pytest.mark.parametrize(
    "name",
    [b"range", b"if-modified-since", b"if-unmodified-since", b"if-range", b"if-none-match"],
)
def test_header_values_that_are_not_text_are_never_a_server_error(examples_server, name):
    for value in (b"\xff\xfe", b"bytes=\xff-\xfe", b"Mon, 32 \xff 2020 99:99:99 GMT"):
        status, _ = raw_get(
            examples_server, b"/package/sample_metrics/1.0.0/manifest.yml", [(name, value)]
        )
        assert status in (200, 206, 304, 412, 416)


# --------------------------------------------------------------------------------------
# Random bytes in every parameter (hypothesis), one server for the whole run

PARAMETERS = [
    "kibana.version",
    "agent.version",
    "spec.min",
    "spec.max",
    "prerelease",
    "experimental",
    "all",
    "capabilities",
    "discovery",
    "package",
    "category",
    "type",
    "internal",
    "include_policy_templates",
    "other",
]


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory):
    """Unknown parameters refused, so every key takes a validating path."""
    directory = tmp_path_factory.mktemp("strict-server")
    config = write_config(directory, [EXAMPLES])
    server = start_registry(
        [f"-config={config}", "-workers=1", "-allow-unknown-query-parameters=false"],
        cwd=directory,
    )
    yield server
    stop(server)


def _escaped(value: bytes) -> bytes:
    return urllib.parse.quote_from_bytes(value, safe="").encode()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=st.sampled_from([b"/search", b"/categories"]),
    pairs=st.lists(
        st.tuples(
            st.sampled_from(PARAMETERS) | st.text(max_size=8),
            st.binary(max_size=24),
            st.booleans(),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_random_bytes_in_any_parameter_never_give_a_server_error(strict_server, route, pairs):
    parts = []
    for key, value, escape in pairs:
        raw_key = _escaped(key.encode("utf-8", "surrogatepass"))
        # Unescaped bytes go on the wire as they are, except those http.client refuses.
        raw_value = _escaped(value) if escape else bytes(b for b in value if 0x20 < b < 0x7F)
        parts.append(raw_key + b"=" + raw_value.replace(b"#", b"%23"))
    status, body = raw_get(strict_server, route + b"?" + b"&".join(parts))
    assert status in (200, 400, 404), body


# --------------------------------------------------------------------------------------
# Ranges and signatures


@pytest.mark.parametrize(
    "target",
    [
        b"/epr/sample_metrics/sample_metrics-1.0.0.zip",
        b"/package/sample_metrics/1.0.0/manifest.yml",
    ],
)
def test_range_with_a_hundred_thousand_digits_is_416(examples_server, target):
    header = b"bytes=" + b"1" * 100_000 + b"-1"
    assert raw_get(examples_server, target, [(b"range", header)]) == (416, b"invalid range\n")


def test_many_small_ranges_never_multiply_the_answer(examples_server):
    target = b"/epr/sample_metrics/sample_metrics-1.0.0.zip"
    _, whole = raw_get(examples_server, target)
    header = ",".join(f"{i}-{i}" for i in range(20_000)).encode()
    status, body = raw_get(examples_server, target, [(b"range", b"bytes=" + header)])
    assert (status, body) == (200, whole)


def test_existing_package_without_signature_file_is_404(registry, tmp_path):
    packages = tmp_path / "packages"
    shutil.copytree(EXAMPLES, packages)
    (packages / "sample_logs" / "1.1.0.sig").unlink()
    (packages / "sample_metrics-1.0.0.zip.sig").unlink()
    server = registry(package_paths=[packages], flags=["-require-package-signatures=false"])
    for path in (
        "/epr/sample_logs/sample_logs-1.1.0.zip.sig",
        "/epr/sample_metrics/sample_metrics-1.0.0.zip.sig",
    ):
        r = server.get(path)
        assert (r.status_code, r.text) == (404, "signature file not found\n")
        assert "public" not in r.headers.get_list("cache-control")
    assert server.get("/epr/sample_logs/sample_logs-1.0.0.zip.sig").status_code == 200


HEADER_NAMES = [
    b"range",
    b"if-range",
    b"if-modified-since",
    b"if-unmodified-since",
    b"if-none-match",
    b"if-match",
    b"accept-encoding",
]
FILES = [
    b"/package/sample_metrics/1.0.0/manifest.yml",
    b"/package/sample_logs/1.1.0/docs/README.md",
    b"/epr/sample_metrics/sample_metrics-1.0.0.zip",
    b"/epr/sample_logs/sample_logs-1.1.0.zip",
    b"/epr/sample_logs/sample_logs-1.1.0.zip.sig",
    b"/search?all=true",
]
# Header values: any byte http.client lets through (no CR, LF or NUL), or Range-like text.
HEADER_VALUES = st.binary(max_size=60).map(
    lambda b: bytes(c for c in b if c not in (0, 10, 13)).strip(b" \t")
) | st.from_regex(rb"\Abytes=[0-9 ,+\-]{0,40}\Z")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    target=st.sampled_from(FILES),
    headers=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), HEADER_VALUES), max_size=4),
)
def test_random_conditional_range_and_encoding_headers_never_give_a_server_error(
    strict_server, target, headers
):
    status, body = raw_get(strict_server, target, headers)
    # 400 comes from the HTTP parser for control bytes in a header value.
    assert status in (200, 206, 304, 400, 412, 416), body

"""File serving with Go ``http.ServeContent`` semantics: conditionals and ranges."""

from __future__ import annotations

import functools
import io

import pytest

from package_registry.web.responses import (
    CHUNK_SIZE,
    MAX_RANGES,
    Content,
    Response,
    cache_headers,
    http_date,
    parse_http_date,
    serve_content,
)

DATA = bytes(range(256)) * 4  # 1024 bytes
MTIME = 1_700_000_000.0


def content(data: bytes = DATA, mtime: float = MTIME) -> Content:
    return Content(
        size=len(data), mtime=mtime, content_type="image/png", open=lambda: io.BytesIO(data)
    )


def body(response: Response) -> bytes:
    if response.stream is not None:
        return b"".join(response.stream())
    return response.body


def header(response: Response, name: bytes) -> list[bytes]:
    return [v for k, v in response.headers if k == name]


def test_plain_get_sends_everything_with_last_modified_and_accept_ranges():
    response = serve_content("GET", {}, content(), [])
    assert response.status == 200
    assert body(response) == DATA
    assert header(response, b"last-modified") == [http_date(MTIME)]
    assert header(response, b"accept-ranges") == [b"bytes"]


@pytest.mark.parametrize(
    ("since", "status"),
    [
        pytest.param(MTIME, 304, id="same-second"),
        pytest.param(MTIME + 60, 304, id="later"),
        pytest.param(MTIME - 60, 200, id="earlier"),
    ],
)
def test_if_modified_since_gives_304_when_not_modified(since, status):
    response = serve_content("GET", {"if-modified-since": http_date(since).decode()}, content(), [])
    assert response.status == status


def test_304_keeps_cache_control_and_last_modified_but_no_body():
    response = serve_content(
        "GET", {"if-modified-since": http_date(MTIME).decode()}, content(), cache_headers(1)
    )
    assert response.status == 304
    assert header(response, b"cache-control") == [b"max-age=1", b"public"]
    assert header(response, b"last-modified")
    assert not header(response, b"accept-ranges")


def test_if_none_match_takes_precedence_over_if_modified_since():
    headers = {"if-none-match": '"x"', "if-modified-since": http_date(MTIME).decode()}
    assert serve_content("GET", headers, content(), []).status == 200


def test_failed_if_unmodified_since_gives_412():
    headers = {"if-unmodified-since": http_date(MTIME - 60).decode()}
    assert serve_content("GET", headers, content(), []).status == 412


RANGES = [
    pytest.param("bytes=0-9", 0, 10, id="first-ten"),
    pytest.param("bytes=1000-", 1000, 24, id="open-ended"),
    pytest.param("bytes=-24", 1000, 24, id="suffix"),
    pytest.param("bytes=1000-5000", 1000, 24, id="end-clamped"),
    pytest.param("bytes=0-1024", 0, 1024, id="whole-file-as-range"),
]


@pytest.mark.parametrize(("spec", "start", "length"), RANGES)
def test_single_range_gives_206_with_the_requested_bytes(spec, start, length):
    response = serve_content("GET", {"range": spec}, content(), [])
    assert response.status == 206
    assert body(response) == DATA[start : start + length]
    assert header(response, b"content-range") == [b"bytes %d-%d/1024" % (start, start + length - 1)]
    assert response.length == length


def test_several_ranges_give_multipart_byteranges():
    response = serve_content("GET", {"range": "bytes=0-1,10-11"}, content(), [])
    assert response.status == 206
    (ctype,) = header(response, b"content-type")
    assert ctype.startswith(b"multipart/byteranges; boundary=")
    sent = body(response)
    assert len(sent) == response.length
    assert b"Content-Range: bytes 0-1/1024" in sent
    assert b"Content-Range: bytes 10-11/1024" in sent


@pytest.mark.parametrize(
    ("spec", "message", "content_range"),
    [
        pytest.param(
            "bytes=5000-", b"invalid range: failed to overlap\n", [b"bytes */1024"], id="no-overlap"
        ),
        pytest.param("items=0-1", b"invalid range\n", [], id="wrong-unit"),
        pytest.param("bytes=9-1", b"invalid range\n", [], id="reversed"),
        pytest.param("bytes=x-1", b"invalid range\n", [], id="not-a-number"),
    ],
)
def test_bad_ranges_give_416_without_cache_headers(spec, message, content_range):
    response = serve_content("GET", {"range": spec}, content(), cache_headers(1))
    assert response.status == 416
    assert response.body == message
    assert header(response, b"content-range") == content_range
    assert not header(response, b"cache-control")
    assert not header(response, b"last-modified")


def test_range_on_empty_file_is_ignored():
    response = serve_content("GET", {"range": "bytes=0-"}, content(b""), [])
    assert response.status == 200


def test_overlapping_ranges_larger_than_the_file_are_ignored():
    response = serve_content("GET", {"range": "bytes=0-1023,0-1023"}, content(), [])
    assert response.status == 200


def test_if_range_with_other_date_sends_whole_file():
    headers = {"range": "bytes=0-9", "if-range": http_date(MTIME - 60).decode()}
    assert serve_content("GET", headers, content(), []).status == 200
    headers["if-range"] = http_date(MTIME).decode()
    assert serve_content("GET", headers, content(), []).status == 206


@pytest.mark.parametrize(
    "text",
    ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"],
)
def test_http_dates_in_all_three_formats_parse(text):
    assert parse_http_date(text) == 784111777.0


def test_cache_headers_round_like_go():
    assert cache_headers(600) == [(b"cache-control", b"max-age=600"), (b"cache-control", b"public")]
    assert cache_headers(2.5)[0] == (b"cache-control", b"max-age=2")


LONG = "1" * 100_000


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(f"bytes={LONG}-1", id="long-start"),
        pytest.param(f"bytes=0-{LONG}", id="long-end"),
        pytest.param(f"bytes=-{LONG}", id="long-suffix"),
        pytest.param("bytes=9223372036854775808-", id="start-beyond-int64"),
        pytest.param("bytes=0-9223372036854775808", id="end-beyond-int64"),
        pytest.param("bytes=\u00b2-3", id="superscript-digit"),
        pytest.param("bytes=\u0663-5", id="arabic-digit"),
        pytest.param("bytes=-+", id="sign-only"),
    ],
)
def test_numbers_go_cannot_parse_give_416_not_an_error(spec):
    response = serve_content("GET", {"range": spec}, content(), [])
    assert (response.status, response.body) == (416, b"invalid range\n")


@pytest.mark.parametrize(
    ("spec", "start", "length"),
    [
        pytest.param("bytes=+5-+6", 5, 2, id="plus-signs"),
        pytest.param("bytes=" + "0" * 100_000 + "7-8", 7, 2, id="leading-zeros"),
        pytest.param("bytes=1000-9223372036854775807", 1000, 24, id="int64-max-end"),
    ],
)
def test_numbers_go_parses_are_accepted(spec, start, length):
    response = serve_content("GET", {"range": spec}, content(), [])
    assert response.status == 206
    assert body(response) == DATA[start : start + length]


def test_more_ranges_than_the_limit_send_the_whole_file_once():
    spec = "bytes=" + ",".join(f"{i}-{i}" for i in range(MAX_RANGES + 1))
    response = serve_content("GET", {"range": spec}, content(), [])
    assert response.status == 200
    assert body(response) == DATA
    at_limit = "bytes=" + ",".join(f"{i}-{i}" for i in range(MAX_RANGES))
    assert serve_content("GET", {"range": at_limit}, content(), []).status == 206


def test_a_megabyte_of_ranges_is_answered_with_the_file_size_at_most():
    spec = "bytes=" + ",".join(f"{i % 1000}-{i % 1000}" for i in range(240_000))
    response = serve_content("GET", {"range": spec}, content(), [])
    assert response.status == 200
    assert len(body(response)) == len(DATA)


def test_several_ranges_are_streamed_in_bounded_chunks(tmp_path):
    data = bytes(range(256)) * 4096  # 1 MiB
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    on_disk = Content(
        size=len(data),
        mtime=MTIME,
        content_type="application/zip",
        open=functools.partial(path.open, "rb"),
        path=str(path),
    )
    spec = "bytes=900000-,0-300000"  # out of order is fine where seeking is free
    response = serve_content("GET", {"range": spec}, on_disk, [])
    assert response.status == 206 and response.stream is not None
    chunks = list(response.stream())
    assert max(map(len, chunks)) <= CHUNK_SIZE
    sent = b"".join(chunks)
    assert len(sent) == response.length
    assert data[900000:] in sent and data[:300001] in sent
    assert sent.index(data[900000:]) < sent.index(data[:300001])


def test_out_of_order_ranges_of_a_forward_only_stream_send_the_whole_file():
    # ``content()`` has neither bytes in memory nor a path: like a compressed zip member.
    forward = serve_content("GET", {"range": "bytes=0-1,10-11"}, content(), [])
    assert forward.status == 206
    backward = serve_content("GET", {"range": "bytes=10-11,0-1"}, content(), [])
    assert (backward.status, body(backward)) == (200, DATA)

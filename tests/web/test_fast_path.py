"""The protocol-level replay of repeated answers (``web/fastpath.py``) over a real server.

The server runs one uvicorn worker with ``-log-level=warn``, the set-up in which answers
are recorded and replayed; every request is written and read as raw bytes so that
replayed answers can be compared byte for byte with the ones the application wrote.
"""

from __future__ import annotations

import io
import os
import random
import socket
import subprocess
import time
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from package_registry.web.fastpath import ENTRY_OVERHEAD, SENDFILE_MIN, Entry, ReplayStore
from tests.conftest import (
    EXAMPLES,
    EXECUTABLE,
    RunningRegistry,
    free_port,
    stop_registry,
    write_config,
)

SEARCH = "/search?kibana.version=8.15.0&prerelease=true"
PACKAGE = "/package/sample_logs/1.1.0/"

SINGLE_QUIET = ("-workers=1", "-log-level=warn")
BIG = "/epr/sample_metrics/sample_metrics-1.0.0.zip"
BIG_PAYLOAD = 300_000

Answer = tuple[bytes, list[tuple[bytes, bytes]], bytes]


def connect(server: RunningRegistry) -> socket.socket:
    parsed = urllib.parse.urlsplit(server.base_url)
    return socket.create_connection((parsed.hostname, parsed.port), timeout=10)


def request(path: str, method: str = "GET", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_answer(stream: BinaryIO, method: str = "GET") -> Answer:
    """One response: status line, headers in order, body by ``content-length``."""
    status = stream.readline().rstrip(b"\r\n")
    headers = []
    while True:
        line = stream.readline().rstrip(b"\r\n")
        if not line:
            break
        name, _, value = line.partition(b":")
        headers.append((name.lower(), value.strip()))
    length = int(dict(headers).get(b"content-length", b"0"))
    no_body = method == "HEAD" or status.split()[1] in (b"204", b"304")
    body = b"" if no_body else stream.read(length)
    return status, headers, body


def exchange(server: RunningRegistry, *requests: tuple[str, str, dict[str, str]]) -> list[Answer]:
    """Send all ``requests`` at once on one connection (pipelined) and read the answers."""
    with connect(server) as sock, sock.makefile("rb") as stream:
        sock.sendall(b"".join(request(path, method, headers) for method, path, headers in requests))
        return [read_answer(stream, method) for method, _path, _headers in requests]


def without_date(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in headers if name != b"date"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningRegistry]:
    yield from serve(tmp_path, EXAMPLES)


@pytest.fixture
def big_server(tmp_path: Path) -> Iterator[RunningRegistry]:
    """Serves one zip package of about 300 KB, whose download is replayed with sendfile."""
    packages = big_package(tmp_path)
    yield from serve(tmp_path, packages, "-require-package-signatures=false")


def big_package(tmp_path: Path) -> Path:
    """A folder with one zip package of about 300 KB (an incompressible file inside)."""
    packages = tmp_path / "packages"
    packages.mkdir()
    with (
        zipfile.ZipFile(EXAMPLES / "sample_metrics-1.0.0.zip") as source,
        zipfile.ZipFile(packages / "sample_metrics-1.0.0.zip", "w") as target,
    ):
        for info in source.infolist():
            target.writestr(info, source.read(info))
        payload = random.Random(1).randbytes(BIG_PAYLOAD)
        target.writestr("sample_metrics-1.0.0/docs/payload.bin", payload)
    return packages


def serve(tmp_path: Path, packages: Path, *flags: str) -> Iterator[RunningRegistry]:
    """One worker at ``-log-level=warn``: no ``listening on`` line, so a port chosen here."""
    config = write_config(tmp_path, [packages])
    port = free_port()
    process = subprocess.Popen(
        [EXECUTABLE, f"-config={config}", f"-address=127.0.0.1:{port}", *SINGLE_QUIET, *flags],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    running = RunningRegistry(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if running.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield running
    finally:
        stop_registry(process)


def test_repeated_search_is_the_same_answer(server):
    first, second, third = (exchange(server, ("GET", SEARCH, {}))[0] for _ in range(3))
    assert first[0] == b"HTTP/1.1 200 OK"
    assert second[0] == third[0] == first[0]
    assert without_date(second[1]) == without_date(third[1]) == without_date(first[1])
    assert [name for name, _ in first[1]].count(b"date") == 1
    assert second[2] == third[2] == first[2]
    assert first[2].startswith(b"[")


@pytest.mark.parametrize("path", ["/", "/index.json", "/favicon.ico", PACKAGE, "/categories"])
def test_repeated_answers_of_other_routes(server, path):
    answers = [exchange(server, ("GET", path, {}))[0] for _ in range(3)]
    assert answers[0][0] == b"HTTP/1.1 200 OK"
    assert all(a[0] == answers[0][0] and a[2] == answers[0][2] for a in answers)
    assert all(without_date(a[1]) == without_date(answers[0][1]) for a in answers)


def test_repeated_download_is_the_same_answer(server):
    """A file answer (recorded per second), then another request on the connection."""
    path = "/epr/sample_metrics/sample_metrics-1.0.0.zip"
    answers = [exchange(server, ("GET", path, {}), ("GET", "/health", {})) for _ in range(3)]
    for (download, health), (first, _) in zip(answers, answers[:1] * 3, strict=True):
        assert download[0] == b"HTTP/1.1 200 OK"
        assert download[2] == first[2]
        assert download[2].startswith(b"PK")
        assert without_date(download[1]) == without_date(first[1])
        assert health[0] == b"HTTP/1.1 200 OK"


def test_large_download_is_sent_whole_and_in_order(big_server):
    """Bodies above ``SENDFILE_MIN`` go out with sendfile; the next answer follows them."""
    answers = [exchange(big_server, ("GET", BIG, {}), ("GET", "/health", {})) for _ in range(4)]
    first = answers[0][0]
    assert first[0] == b"HTTP/1.1 200 OK"
    assert len(first[2]) > BIG_PAYLOAD
    assert zipfile.ZipFile(io.BytesIO(first[2])).testzip() is None
    for download, health in answers:
        assert download[2] == first[2]
        assert without_date(download[1]) == without_date(first[1])
        assert health[0] == b"HTTP/1.1 200 OK"


def test_large_download_to_a_slow_reader(big_server):
    """More than a socket's send buffer (4 MiB at most on Linux) asked for at once by a
    client that reads nothing for a while: ``sendfile`` takes part of a body, the
    transport the rest and every later answer, all in order."""
    for _ in range(2):
        expected = exchange(big_server, ("GET", BIG, {}))[0]
    count = 24  # about 7 MB
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        parsed = urllib.parse.urlsplit(big_server.base_url)
        sock.connect((parsed.hostname, parsed.port))
        with sock.makefile("rb") as stream:
            for _ in range(count):
                sock.sendall(request(BIG))
                time.sleep(0.01)  # one request per read on the server: each is replayed
            sock.sendall(request("/health"))
            time.sleep(0.3)
            for _ in range(count):
                answer = read_answer(stream)
                assert answer[2] == expected[2]
                assert without_date(answer[1]) == without_date(expected[1])
            assert read_answer(stream)[0] == b"HTTP/1.1 200 OK"


def test_large_download_head_has_no_body(big_server):
    for _ in range(3):
        with connect(big_server) as sock, sock.makefile("rb") as stream:
            sock.sendall(request(BIG, "HEAD") + request("/health"))
            head = read_answer(stream, "HEAD")
            assert head[0] == b"HTTP/1.1 200 OK"
            assert int(dict(head[1])[b"content-length"]) > BIG_PAYLOAD
            assert read_answer(stream)[0] == b"HTTP/1.1 200 OK"


def test_head_has_headers_but_no_body(server):
    get = [exchange(server, ("GET", SEARCH, {}))[0] for _ in range(2)][-1]
    for _ in range(2):
        with connect(server) as sock, sock.makefile("rb") as stream:
            sock.sendall(request(SEARCH, "HEAD") + request("/health"))
            head = read_answer(stream, "HEAD")
            health = read_answer(stream)
        assert head[0] == b"HTTP/1.1 200 OK"
        assert without_date(head[1]) == without_date(get[1])
        assert head[2] == b""
        # The next answer on the connection starts right after the HEAD's headers.
        assert health[0] == b"HTTP/1.1 200 OK"
        assert health[2] == b""


def test_gzip_variant_is_kept_apart(server):
    gzip = {"Accept-Encoding": "gzip"}
    for _ in range(2):
        plain = exchange(server, ("GET", SEARCH, {}))[0]
        packed = exchange(server, ("GET", SEARCH, gzip))[0]
        assert (b"content-encoding", b"gzip") not in plain[1]
        assert (b"content-encoding", b"gzip") in packed[1]
        assert packed[2].startswith(b"\x1f\x8b")
        assert len(packed[2]) < len(plain[2])


@pytest.mark.parametrize("refusal", ["gzip;q=0", "GZIP; Q=0.000, deflate", "*;q=0", "br"])
def test_gzip_refused_by_weight_is_never_replayed_gzipped(server, refusal):
    for _ in range(3):  # recorded with gzip first, then asked without it
        exchange(server, ("GET", SEARCH, {"Accept-Encoding": "gzip"}))
        answer = exchange(server, ("GET", SEARCH, {"Accept-Encoding": refusal}))[0]
        assert (b"content-encoding", b"gzip") not in answer[1]
        assert answer[2].startswith(b"[")


def test_if_none_match_still_gives_304(server):
    first = [exchange(server, ("GET", SEARCH, {}))[0] for _ in range(2)][-1]
    etag = dict(first[1])[b"etag"].decode()
    status, headers, body = exchange(server, ("GET", SEARCH, {"If-None-Match": etag}))[0]
    assert status == b"HTTP/1.1 304 Not Modified"
    assert body == b""
    assert dict(headers)[b"etag"] == etag.encode()


def test_range_bypasses_the_replay(server):
    path = "/package/sample_logs/1.1.0/img/sample_logs.svg"
    whole = [exchange(server, ("GET", path, {}))[0] for _ in range(2)][-1]
    status, _headers, body = exchange(server, ("GET", path, {"Range": "bytes=0-9"}))[0]
    assert status == b"HTTP/1.1 206 Partial Content"
    assert body == whole[2][:10]


def test_pipelined_requests_answered_in_order(server):
    exchange(server, ("GET", SEARCH, {}), ("GET", PACKAGE, {}))  # recorded
    reference = {
        SEARCH: exchange(server, ("GET", SEARCH, {}))[0],
        PACKAGE: exchange(server, ("GET", PACKAGE, {}))[0],
        "/index.json": exchange(server, ("GET", "/index.json", {}))[0],
    }
    etag = dict(reference[SEARCH][1])[b"etag"].decode()
    answers = exchange(
        server,
        ("GET", SEARCH, {}),
        ("GET", "/search?package=sample_logs", {}),  # not recorded yet: the normal path
        ("GET", PACKAGE, {}),
        ("HEAD", SEARCH, {}),
        ("GET", SEARCH, {"If-None-Match": etag}),
        ("GET", "/index.json", {}),
        ("GET", SEARCH, {}),
    )
    statuses = [a[0].split()[1] for a in answers]
    assert statuses == [b"200", b"200", b"200", b"200", b"304", b"200", b"200"]
    assert answers[0][2] == answers[6][2] == reference[SEARCH][2]
    assert b'"sample_logs"' in answers[1][2]
    assert answers[2][2] == reference[PACKAGE][2]
    assert answers[3][2] == b""
    assert answers[5][2] == reference["/index.json"][2]


def test_connection_close_is_honoured(server):
    exchange(server, ("GET", SEARCH, {}))
    with connect(server) as sock, sock.makefile("rb") as stream:
        sock.sendall(request(SEARCH, headers={"Connection": "close"}))
        status, headers, body = read_answer(stream)
        assert status == b"HTTP/1.1 200 OK"
        assert (b"connection", b"close") in headers
        assert body
        assert stream.read() == b""  # the server closed the connection


def test_http_10_closes_after_the_answer(server):
    exchange(server, ("GET", SEARCH, {}))
    with connect(server) as sock, sock.makefile("rb") as stream:
        sock.sendall(f"GET {SEARCH} HTTP/1.0\r\n\r\n".encode())
        status, headers, body = read_answer(stream)
        assert status == b"HTTP/1.1 200 OK"
        assert (b"connection", b"close") in headers
        assert body
        assert stream.read() == b""


def _entry_cost(target: bytes, head: bytes) -> int:
    return 3 * len(target) + len(head) + ENTRY_OVERHEAD


def test_store_is_bounded_by_bytes_and_dropped_with_the_catalog():
    generation = [1]
    one = _entry_cost(b"/0", b"\r\n") + 4
    store = ReplayStore(max_bytes=2 * one)
    store.current_generation = lambda: generation[0]
    for n in range(3):
        store.put((b"/%d" % n, False), Entry(b"\r\n", b"abc" + bytes([n]), None), 1)
    assert list(store.entries) == [(b"/1", False), (b"/2", False)]
    assert store.total <= store.max_bytes
    store.put((b"/big", False), Entry(b"\r\n", b"x" * (2 * one), None), 1)
    assert (b"/big", False) not in store.entries  # larger than the budget: not kept
    generation[0] = 2
    assert store.lookup((b"/2", False), None) is None
    assert not store.entries
    assert store.total == 0


def test_store_counts_long_targets():
    store = ReplayStore(max_bytes=100_000)
    store.current_generation = lambda: 1
    target = b"/search?kibana.version=" + b"9" * 15_000
    for n in range(10):
        store.put((target + b"%d" % n, False), Entry(b"\r\n", b"[]", None), 1)
    assert len(store.entries) == 2  # each entry costs three times its target
    assert store.total <= 100_000


def test_targets_with_the_same_body_share_it_and_its_memfd():
    store = ReplayStore(max_bytes=4 * SENDFILE_MIN)
    store.current_generation = lambda: 1
    body = b"s" * SENDFILE_MIN
    for n in range(50):
        store.put((b"/search?v=%d" % n, False), Entry(b"\r\n", body, None), 1)
    assert len(store.entries) == 50
    assert len({entry.fd for entry in store.entries.values()}) == 1
    assert store.total < 2 * SENDFILE_MIN + 50 * _entry_cost(b"/search?v=00", b"\r\n")


def test_file_answers_are_replayed_within_one_tick_only():
    store = ReplayStore()
    store.current_generation = lambda: 1
    tick = object()
    store.put((b"/f", False), Entry(b"\r\n", b"abc", tick), 1)
    assert store.lookup((b"/f", False), tick) is not None
    assert store.lookup((b"/f", False), object()) is None


def test_large_bodies_get_a_memfd_closed_when_dropped():
    store = ReplayStore(max_bytes=3 * SENDFILE_MIN + 2000)
    store.current_generation = lambda: 1
    big = Entry(b"\r\n", b"x" * SENDFILE_MIN, None)
    store.put((b"/big", False), big, 1)
    assert big.fd is not None
    assert os.pread(big.fd, 8, SENDFILE_MIN - 8) == b"x" * 8
    small = Entry(b"\r\n", b"x" * (SENDFILE_MIN - 1), None)
    store.put((b"/small", False), small, 1)
    assert small.fd is None
    descriptor = big.fd
    store.put((b"/other", False), Entry(b"\r\n", b"y" * SENDFILE_MIN, None), 1)
    assert big.fd is None
    with pytest.raises(OSError):
        os.fstat(descriptor)  # closed (nothing else opened a descriptor in between)
    store.clear()
    assert store.total == 0


def test_replayed_requests_are_logged_and_counted(registry):
    """At the default log level with metrics on, replayed answers still get their request
    line and their count: the store replays them, the app's hook observes them."""
    port = free_port()
    server = registry(flags=["-workers=1", f"-metrics-address=127.0.0.1:{port}"])
    for method in ["GET"] * 10 + ["HEAD"] * 2:
        with connect(server) as sock, sock.makefile("rb") as stream:
            sock.sendall(request(SEARCH, method, {"User-Agent": "replay-test"}))
            assert read_answer(stream, method)[0] == b"HTTP/1.1 200 OK"
    deadline = time.monotonic() + 5
    lines: list[dict] = []
    while time.monotonic() < deadline and len(lines) < 12:
        lines = [line for line in server.logs() if line.get("log", {}).get("logger") == "http"]
        time.sleep(0.05)
    assert [line["http"]["request"]["method"] for line in lines] == ["GET"] * 10 + ["HEAD"] * 2
    assert {line["user_agent"]["original"] for line in lines} == {"replay-test"}
    assert {line["url"]["query"] for line in lines} == {SEARCH.partition("?")[2]}
    sizes = [line["http"]["response"]["body"]["bytes"] for line in lines]
    assert len(set(sizes[:10])) == 1 and sizes[0] > 0 and sizes[10:] == [0, 0]
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    counts = {
        line.split('method="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("epr_http_requests_total{") and 'path="/search"' in line
    }
    assert counts == {"get": 10, "head": 2}


def test_large_download_over_tls_is_replayed_through_the_transport(registry, tmp_path, tls_files):
    """Under TLS the body must be encrypted: no sendfile, the same bytes every time."""
    cert, key = tls_files
    server = registry(
        package_paths=[big_package(tmp_path)],
        flags=[
            f"-tls-cert={cert}",
            f"-tls-key={key}",
            "-workers=1",
            "-require-package-signatures=false",
        ],
    )
    with httpx.Client(verify=False, timeout=10) as client:
        bodies = [client.get(server.url(BIG)).content for _ in range(4)]
    assert len(bodies[0]) > BIG_PAYLOAD
    assert all(body == bodies[0] for body in bodies)
    assert zipfile.ZipFile(io.BytesIO(bodies[0])).testzip() is None

"""The per-worker cache of small files: limits, LRU order, invalidation."""

from __future__ import annotations

from typing import BinaryIO

from package_registry.web.filecache import ENTRY_OVERHEAD, FileCache
from package_registry.web.responses import Content, serve_content


def _reads(data: bytes) -> tuple[list[int], object]:
    calls: list[int] = []

    def read() -> bytes:
        calls.append(1)
        return data

    return calls, read


def test_read_once_then_served_from_memory() -> None:
    cache = FileCache(max_entry=100, max_total=1000)
    calls, read = _reads(b"abc")
    assert cache.get(1, "k", 3, 5.0, read) == b"abc"
    assert cache.get(1, "k", 3, 5.0, read) == b"abc"
    assert len(calls) == 1
    assert cache.total == 3 + ENTRY_OVERHEAD


def test_changed_size_or_mtime_reads_again_and_replaces() -> None:
    cache = FileCache(max_entry=100, max_total=1000)
    cache.get(1, "k", 3, 5.0, lambda: b"abc")
    assert cache.get(1, "k", 4, 6.0, lambda: b"abcd") == b"abcd"
    assert len(cache) == 1
    assert cache.total == 4 + ENTRY_OVERHEAD


def test_new_generation_drops_everything() -> None:
    cache = FileCache(max_entry=100, max_total=1000)
    cache.get(1, "k", 3, 5.0, lambda: b"abc")
    calls, read = _reads(b"xyz")
    assert cache.get(2, "k", 3, 5.0, read) == b"xyz"
    assert calls == [1]


def test_too_large_is_not_kept() -> None:
    cache = FileCache(max_entry=4, max_total=1000)
    calls, read = _reads(b"12345")
    assert cache.get(1, "k", 5, 1.0, read) is None
    assert calls == []
    assert not cache.fits(5)


def test_short_read_is_not_kept() -> None:
    cache = FileCache(max_entry=100, max_total=1000)
    assert cache.get(1, "k", 5, 1.0, lambda: b"123") is None
    assert len(cache) == 0


def test_total_bounded_least_recently_used_first() -> None:
    cache = FileCache(max_entry=10, max_total=20 + 2 * ENTRY_OVERHEAD)
    cache.get(1, "a", 10, 1.0, lambda: b"a" * 10)
    cache.get(1, "b", 10, 1.0, lambda: b"b" * 10)
    cache.get(1, "a", 10, 1.0, lambda: b"unused")  # a is now the most recent
    cache.get(1, "c", 10, 1.0, lambda: b"c" * 10)
    assert cache.total == 20 + 2 * ENTRY_OVERHEAD  # bytes and what each entry costs
    calls, read = _reads(b"b" * 10)
    cache.get(1, "b", 10, 1.0, read)
    assert calls == [1]  # b was dropped
    calls, read = _reads(b"c" * 10)
    cache.get(1, "c", 10, 1.0, read)
    assert calls == []


def _content(data: bytes) -> Content:
    def refuse() -> object:
        raise AssertionError("a held file is not opened")

    return Content(
        size=len(data), mtime=1_700_000_000.0, content_type="text/plain", open=refuse, data=data
    )  # type: ignore[arg-type]


def test_served_from_memory_whole() -> None:
    response = serve_content("GET", {}, _content(b"0123456789"), [])
    assert response.status == 200
    assert response.body == b"0123456789"
    assert response.file_path is None and response.stream is None
    assert response.length == 10


def test_served_from_memory_one_range() -> None:
    response = serve_content("GET", {"range": "bytes=2-4"}, _content(b"0123456789"), [])
    assert response.status == 206
    assert response.body == b"234"
    assert (b"content-range", b"bytes 2-4/10") in response.headers


def test_served_from_memory_several_ranges() -> None:
    response = serve_content("GET", {"range": "bytes=0-1,8-"}, _content(b"0123456789"), [])
    assert response.status == 206
    assert b"01" in response.body and b"89" in response.body
    assert response.body.count(b"Content-Range") == 2


def test_memory_and_disk_answers_agree(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 4)
    data = path.read_bytes()

    def opener() -> BinaryIO:
        return path.open("rb")

    for headers in ({}, {"range": "bytes=10-19"}, {"range": "bytes=-5"}, {"range": "bytes=5000-"}):
        on_disk = serve_content(
            "GET",
            headers,
            Content(len(data), 1_700_000_000.0, "application/octet-stream", opener),
            [],
        )
        held = serve_content(
            "GET",
            headers,
            Content(
                len(data),
                1_700_000_000.0,
                "application/octet-stream",
                opener,
                data=data,
            ),
            [],
        )
        assert held.status == on_disk.status
        assert held.headers == on_disk.headers

        def body(response):  # type: ignore[no-untyped-def]
            if response.stream is not None:
                return b"".join(response.stream())
            return response.body

        assert body(held) == body(on_disk)

"""The answer cache: bounded LRU, strong ETags, gzip made once per answer."""

from __future__ import annotations

import gzip

import pytest

from package_registry.queries.cache import Answer, AnswerCache


def test_answer_cache_computes_once_per_key():
    cache = AnswerCache()
    calls = []

    def compute() -> bytes:
        calls.append(1)
        return b"[]"

    first = cache.get_or_compute(("search", ()), compute)
    second = cache.get_or_compute(("search", ()), compute)
    assert first is second
    assert len(calls) == 1
    assert (cache.hits, cache.misses) == (1, 1)


def test_answer_cache_evicts_least_recently_used_beyond_capacity():
    cache = AnswerCache(capacity=2)
    cache.get_or_compute("a", lambda: b"a")
    cache.get_or_compute("b", lambda: b"b")
    cache.get_or_compute("a", lambda: b"a")  # "a" is now the most recent
    cache.get_or_compute("c", lambda: b"c")
    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") is not None


def test_answer_cache_stores_nothing_when_compute_raises():
    cache = AnswerCache()

    def fail() -> bytes:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("k", fail)
    assert len(cache) == 0


def test_answer_cache_refuses_zero_capacity():
    with pytest.raises(ValueError, match="capacity"):
        AnswerCache(capacity=0)


def test_answer_etag_is_strong_and_follows_the_bytes():
    a, b, c = Answer(b"[1]"), Answer(b"[1]"), Answer(b"[2]")
    assert a.etag == b.etag != c.etag
    assert a.etag.startswith('"') and a.etag.endswith('"')
    assert not a.etag.startswith("W/")


def test_answer_gzip_is_made_once_and_decompresses_to_the_body():
    answer = Answer(b'[\n  {"a": 1}\n]\n' * 50)
    packed = answer.gzip()
    assert answer.gzip() is packed
    assert gzip.decompress(packed) == answer.body

"""The answer cache: bounded by bytes, equivalent queries share one answer, strong ETags,
gzip made once per answer (and charged to the budget)."""

from __future__ import annotations

import gzip
import time

import pytest

from package_registry.queries.cache import Answer, AnswerCache, EntryLimit
from package_registry.queries.lru import ENTRY_OVERHEAD, ByteLRU, approx_size


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


def _cost(key: str, body: bytes) -> int:
    return approx_size(key) + ENTRY_OVERHEAD + len(body)


def test_answer_cache_evicts_least_recently_used_by_bytes():
    body = b"x" * 1000
    cache = AnswerCache(max_bytes=2 * _cost("a", body) + 10)
    cache.get_or_compute("a", lambda: b"a" * 1000)
    cache.get_or_compute("b", lambda: b"b" * 1000)
    cache.get_or_compute("a", lambda: b"a" * 1000)  # "a" is now the most recent
    cache.get_or_compute("c", lambda: b"c" * 1000)
    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.total <= cache.max_bytes


def test_answer_larger_than_the_budget_is_served_but_not_kept():
    cache = AnswerCache(max_bytes=500)
    cache.get_or_compute("small", lambda: b"[]")
    answer = cache.get_or_compute("big", lambda: b"x" * 600)
    assert answer.body == b"x" * 600
    assert cache.get("big") is None
    assert cache.get("small") is not None  # nothing was evicted for it


def test_keys_with_equal_bytes_share_one_answer_and_pay_it_once():
    body = b"y" * 10_000
    cache = AnswerCache(max_bytes=1 << 20)
    answers = {cache.get_or_compute(("search", n), lambda: bytes(body)) for n in range(100)}
    assert len(answers) == 1
    assert (len(cache), cache.answers) == (100, 1)
    assert cache.total < len(body) + 100 * 400


def test_selected_parts_name_the_answer_and_render_once():
    parts = [b"one", b"two"]
    other = [b"three"]
    renders = []

    def render(chosen):
        renders.append(1)
        return b",".join(chosen)

    cache = AnswerCache()
    first = cache.get_or_select(("q", 1), lambda: parts, render, salt=None)
    second = cache.get_or_select(("q", 2), lambda: list(parts), render, salt=None)
    third = cache.get_or_select(("q", 3), lambda: other, render, salt=None)
    assert first is second and first is not third
    assert len(renders) == 2
    assert cache.answers == 2


def test_an_answer_leaves_with_its_last_key():
    body = b"z" * 1000
    cost = _cost("k0", body)
    cache = AnswerCache(max_bytes=cost + 3 * (approx_size("k1") + ENTRY_OVERHEAD))
    shared = cache.get_or_compute("k0", lambda: bytes(body))
    cache.get_or_compute("k1", lambda: bytes(body))
    assert cache.answers == 1
    cache.get_or_compute("other", lambda: b"w" * 1000)  # evicts both keys of the first
    assert cache.get("k0") is None and cache.get("k1") is None
    assert cache.answers == 1
    assert cache.total <= cache.max_bytes
    assert shared.grown is None  # no longer charged to this cache


def test_gzip_copy_is_charged_and_can_evict():
    body = b'{"a": 1}\n' * 2000
    cache = AnswerCache(max_bytes=1 << 20)
    answer = cache.get_or_compute("k", lambda: body)
    before = cache.total
    packed = answer.gzip()
    assert cache.total == before + len(packed)
    answer.gzip()
    assert cache.total == before + len(packed)  # charged once


def test_answer_cache_stores_nothing_when_compute_raises():
    cache = AnswerCache()

    def fail() -> bytes:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("k", fail)
    assert len(cache) == 0
    assert cache.total == 0


def test_answer_cache_refuses_a_negative_budget():
    with pytest.raises(ValueError, match="max_bytes"):
        AnswerCache(max_bytes=-1)


def test_zero_budget_keeps_nothing():
    cache = AnswerCache(max_bytes=0)
    assert cache.get_or_compute("k", lambda: b"[]").body == b"[]"
    assert len(cache) == 0


def test_byte_lru_evicts_oldest_use_first_and_releases_what_leaves():
    dropped = []
    lru: ByteLRU[str, str] = ByteLRU(100, on_drop=lambda k, v: dropped.append(k))
    assert lru.put("a", "A", 40)
    assert lru.put("b", "B", 40)
    assert lru.get("a") == "A"  # "b" is now the oldest use
    assert lru.put("c", "C", 40)
    assert lru.keys() == ["a", "c"]
    assert dropped == ["b"]
    assert lru.total == 80
    lru.grow("a", 30)  # over budget: "a" is the oldest use now
    assert lru.keys() == ["c"] and lru.total == 40
    assert not lru.put("huge", "H", 101)
    assert "huge" not in lru
    lru.clear()
    assert (len(lru), lru.total) == (0, 0)


def test_approx_size_follows_containers_and_slots():
    text = "k" * 10_000
    assert approx_size(("search", (text,), None)) > 10_000
    assert approx_size(Answer(b"x" * 5000)) > 5000


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


def test_a_limited_group_keeps_its_most_recently_used_keys() -> None:
    cache = AnswerCache(1 << 20, {"search": EntryLimit(size=2, ttl=0)})
    computed: list[str] = []

    def ask(key: tuple[str, str]) -> None:
        cache.get_or_compute(key, lambda: computed.append(key[1]) or key[1].encode())

    for query in ("a", "b", "a", "c", "a", "b"):
        ask(("search", query))
    ask(("categories", "x"))  # another group: not counted, never evicted by search
    ask(("categories", "y"))
    ask(("categories", "z"))

    assert computed == ["a", "b", "c", "b", "x", "y", "z"]
    assert cache.group_size("search") == 2 and cache.evictions == 2
    assert len(cache) == 5


def test_a_limited_group_recomputes_an_answer_after_its_time_to_live() -> None:
    cache = AnswerCache(1 << 20, {"categories": EntryLimit(size=0, ttl=0.05)})
    computed = []
    key = ("categories", "q")
    for _ in range(2):
        cache.get_or_compute(key, lambda: computed.append(1) or b"answer")
    time.sleep(0.06)
    assert cache.get(key) is None
    cache.get_or_compute(key, lambda: computed.append(1) or b"answer")
    assert len(computed) == 2 and cache.group_size("categories") == 1

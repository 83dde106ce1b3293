"""The catalog holder: atomic swaps, fresh caches, failed reloads keep the last good one."""

from __future__ import annotations

import logging

import pytest

from package_registry.catalog.holder import CatalogHolder
from package_registry.queries.cache import AnswerCache
from tests.queries.factory import catalog_of, make_package


def test_swap_replaces_catalog_and_cache_together():
    holder = CatalogHolder(catalog_of([make_package("a", "1.0.0")]), AnswerCache)
    before = holder.current
    before.cache.get_or_compute("k", lambda: b"old")
    new = catalog_of([make_package("b", "1.0.0")])
    after = holder.swap(new)
    assert holder.current is after
    assert after.catalog is new
    assert after.cache is not before.cache
    assert after.cache.get("k") is None
    # A request that took the old snapshot keeps a consistent pair.
    assert before.catalog.lookup("a", "1.0.0") is not None
    assert before.cache.get("k") is not None


def test_reload_swaps_in_the_new_catalog():
    holder = CatalogHolder(catalog_of([]), AnswerCache)
    assert holder.reload(lambda: catalog_of([make_package("a", "1.0.0")]))
    assert len(holder.catalog) == 1


def test_reload_with_failing_loader_keeps_previous_catalog(caplog: pytest.LogCaptureFixture):
    first = catalog_of([make_package("a", "1.0.0")])
    holder = CatalogHolder(first, AnswerCache)
    snapshot = holder.current

    def broken():  # type: ignore[no-untyped-def]
        raise OSError("disk on fire")

    with caplog.at_level(logging.ERROR, logger="package_registry.catalog"):
        assert not holder.reload(broken)
    assert holder.current is snapshot
    assert "disk on fire" in caplog.text

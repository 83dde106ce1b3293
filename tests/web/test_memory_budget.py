"""Thousands of distinct queries keep every cache keyed by requests within ``-cache-max-bytes``.

Queries that differ only in ``kibana.version`` used to cost one answer (and one gzip copy,
one replay, one memfd) each, until a count limit that allowed gigabytes. Here a generated
corpus is asked 3,000 such queries: in-process, every cache's accounted bytes stay under
its share of the budget; over loopback, the server's resident memory grows by no more
than the budget plus the allocator's slack.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from package_registry.catalog.build import build_catalog
from package_registry.catalog.holder import CatalogHolder
from package_registry.loading import load_local_packages
from package_registry.queries.cache import AnswerCache
from package_registry.web import fastpath
from package_registry.web.app import RegistryApp
from package_registry.web.archives import ArchiveCache
from package_registry.web.request import CacheBudget, CacheTimes, Context
from tests.conftest import ROOT

QUERIES = 3000
CORPUS_SIZE = ("--packages", "40", "--versions", "400", "--quiet")


def _targets(count: int) -> list[str]:
    return [
        f"/search?all=true&prerelease=true&kibana.version=8.{n // 40}.{n % 40}"
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("budget") / "packages"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "make_corpus.py"), str(out), *CORPUS_SIZE],
        check=True,
        capture_output=True,
    )
    return out


def _app(corpus: Path, budget: CacheBudget) -> RegistryApp:
    archives = ArchiveCache(str(corpus.parent / "archives"))
    outcome = load_local_packages([str(corpus)], validate=True, require_signatures=False, workers=1)
    ctx = Context(
        cache_times=CacheTimes(index=10, search=600, categories=600, catch_all=600),
        holder=CatalogHolder(build_catalog(outcome.sources), lambda: AnswerCache(budget.answers)),
        archives=archives,
        allow_unknown_query_parameters=True,
        service_name="package-registry",
        service_version="test",
        budget=budget,
    )
    return RegistryApp(ctx)


async def _get(app: RegistryApp, target: str, gzip: bool) -> tuple[int, int]:
    """One GET through the app as uvicorn's protocol makes it, replay recorder included."""
    path, _, query = target.partition("?")
    headers = [(b"accept-encoding", b"gzip")] if gzip else []
    key = (target.encode(), gzip)
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers,
        "http_version": "1.1",
        "client": ("127.0.0.1", 1),
        "extensions": {
            fastpath.EXTENSION: fastpath._recorder(key, SimpleNamespace(default_headers=[]))
        },
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    await app(scope, receive, send)
    body = sum(len(m.get("body", b"")) for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


def test_accounted_bytes_stay_within_each_share(corpus: Path) -> None:
    budget = CacheBudget.split(4 * 1024 * 1024)
    app = _app(corpus, budget)
    store = fastpath.STORE
    store.clear()
    try:

        async def run() -> int:
            largest = 0
            for n, target in enumerate(_targets(QUERIES)):
                status, size = await _get(app, target, gzip=n % 2 == 0)
                assert status == 200
                largest = max(largest, size)
            return largest

        largest = asyncio.run(run())
        cache = app.ctx.holder.current.cache
        assert largest > 10_000  # the answers are not trivially small
        assert cache.total <= budget.answers
        assert cache.answers < len(cache)  # equivalent queries share one answer
        assert store.total <= budget.replays
        assert len({id(entry.body) for entry in store.entries.values()}) < len(store.entries)
        assert app._routes.total <= budget.memos // 2
        assert app._handlers["search"].__self__._parsed.total <= budget.memos // 2
        assert app.file_cache.max_total == budget.files
    finally:
        store.clear()
        store.max_bytes = fastpath.MAX_BYTES


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_server_memory_stays_within_the_budget(registry, corpus: Path) -> None:
    budget = 8 * 1024 * 1024
    server = registry(
        package_paths=[corpus],
        flags=[
            "-workers=1",
            "-require-package-signatures=false",
            f"-cache-max-bytes={budget}",
        ],
    )
    targets = _targets(QUERIES)
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for target in targets[:100]:  # warm up: allocator arenas, memos, first answers
            assert client.get(target).status_code == 200
        before = _rss(server.process.pid)
        for n, target in enumerate(targets):
            headers = {"accept-encoding": "gzip" if n % 2 else "identity"}
            assert client.get(target, headers=headers).status_code == 200
        after = _rss(server.process.pid)
    # The budget, plus what the allocator keeps of freed answers (fragmentation).
    assert after - before < budget + 24 * 1024 * 1024, (before, after)

"""Peak memory and time of the storage indexers on a 20,000-package bucket index.

Each indexer runs in a fresh process (so its high-water mark is its own): it loads
revision 1 of a ``file://`` bucket, then reloads revision 2 (the same index with one
entry in fifty changed), builds the catalog, and reports its VmHWM. The entries are the
rich ``package_manifest`` of ``tests/storage_index.py`` (icons, screenshots, policy
templates, data streams: about 3.3 KiB of JSON each) under 400 names of 50 versions each.

    .venv/bin/python bench/storage_index_memory.py [--packages 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def write_bucket(folder: str, count: int) -> None:
    from tests.storage_index import rich_manifest

    def entry(i: int, revision: int) -> dict:
        changed = revision == 2 and i % 50 == 0
        manifest = rich_manifest(f"1.{i % 50}.0", "^8.0.0" if not changed else "^8.1.0")
        name = f"pkg{i // 50}"
        manifest.update(name=name, download=f"/epr/{name}/{name}-1.{i % 50}.0.zip")
        manifest["path"] = f"/package/{name}/1.{i % 50}.0"
        return {"package_manifest": manifest}

    for revision in (1, 2):
        path = os.path.join(folder, "v2", "metadata", str(revision))
        os.makedirs(path)
        with open(os.path.join(path, "search-index-all.json"), "w") as out:
            json.dump({"packages": [entry(i, revision) for i in range(count)]}, out)
    set_cursor(folder, 1)


def set_cursor(folder: str, revision: int) -> None:
    with open(os.path.join(folder, "v2", "metadata", "cursor.json"), "w") as out:
        json.dump({"current": str(revision)}, out)


def high_water_mark() -> int:
    """The process's peak resident set, in bytes (``VmHWM``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def child(mode: str, folder: str, database: str) -> None:
    """One indexer in this (fresh) process: load, reload, build; print JSON figures."""
    from package_registry.catalog.build import build_catalog
    from package_registry.packages.store import bucket_store_file, open_store
    from package_registry.sources.storage import LocalBucket, StorageIndex, parse_bucket_url
    from package_registry.sources.storedindex import StoredIndex

    url = f"file://{folder}"
    stored = None
    if mode == "sql":
        path = bucket_store_file(database, url)
        store = open_store(database, (), ("storage-index", url), path=path)
        assert store is not None
        stored = StoredIndex(store, 500, 0.0)
    index = StorageIndex(LocalBucket(folder), parse_bucket_url(url), stored=stored)
    started = time.perf_counter()
    index.update()
    first = time.perf_counter() - started
    set_cursor(folder, 2)
    started = time.perf_counter()
    index.update()
    reload = time.perf_counter() - started
    catalog = build_catalog([list(index.packages)])
    print(
        json.dumps(
            {
                "mode": mode,
                "packages": len(catalog),
                "first_load_s": round(first, 2),
                "reload_s": round(reload, 2),
                "peak_rss_mb": round(high_water_mark() / 2**20, 1),
                "kept": stored.kept if stored else None,
                "stored": stored.stored if stored else None,
                "database_mb": round(os.path.getsize(stored.store.path) / 2**20, 1)
                if stored
                else None,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=20000)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "BUCKET", "DATABASE"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="storage-index-bench-") as work:
        bucket = os.path.join(work, "bucket")
        write_bucket(bucket, args.packages)
        size = os.path.getsize(os.path.join(bucket, "v2/metadata/1/search-index-all.json"))
        print(f"index: {args.packages} packages, {size / 2**20:.1f} MiB of JSON")
        for mode in ("memory", "sql"):
            set_cursor(bucket, 1)
            database = os.path.join(work, f"db-{mode}")
            command = [sys.executable, __file__, "--child", mode, bucket, database]
            print(
                subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
            )


if __name__ == "__main__":
    main()

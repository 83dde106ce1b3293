"""Query latency of /search and /categories on a large synthetic catalog.

Builds 20,000 package versions over 160 names in-process (no files), then times distinct,
uncached ``/search?kibana.version=X`` queries and the full ``all=true&prerelease=true``
listing. Run with ``.venv/bin/python bench/query_bench.py [--versions N] [--names N]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from package_registry.packages.model import Package
from package_registry.queries.categories import categories
from package_registry.queries.params import (
    parse_categories_query,
    parse_search_query,
)
from package_registry.queries.search import search
from tests.queries.factory import catalog_of, make_package

CATEGORY_IDS = ["web", "custom", "security", "observability", "aws", "crm", "datastore", "cloud"]


def synthetic_packages(total: int, names: int, seed: int = 7) -> list[Package]:
    """``total`` versions spread over ``names`` packages, with realistic constraint churn."""
    rnd = random.Random(seed)
    per_name = total // names
    out = []
    for n in range(names):
        name = f"package_{n:03d}"
        cats = rnd.sample(CATEGORY_IDS, 2)
        caps = None if n % 5 else ["security"]
        for i in range(per_name):
            major, minor = 1 + i // 30, i % 30
            version = f"{major}.{minor}.{rnd.randint(0, 3)}"
            if rnd.random() < 0.05:
                version += f"-rc{rnd.randint(1, 3)}"
            # The Kibana condition changes every few releases, at a pace of its own per name.
            step = (i + n % 11) // (3 + n % 7)
            kibana = f"^7.{step}.{n % 3} || ^8.0.0" if step < 18 else f"^8.{step - 18}.{n % 2}"
            out.append(
                make_package(
                    name,
                    version,
                    categories=cats,
                    kibana=kibana,
                    capabilities=caps,
                    templates=[("main", [rnd.choice(CATEGORY_IDS)])] if n % 3 == 0 else (),
                    description=f"Synthetic package {name} version {version}",
                )
            )
    rnd.shuffle(out)
    return out


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versions", type=int, default=20_000)
    parser.add_argument("--names", type=int, default=160)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()

    start = time.perf_counter()
    packages = synthetic_packages(args.versions, args.names)
    made = time.perf_counter()
    catalog = catalog_of(packages)
    built = time.perf_counter()
    print(
        f"catalog: {len(catalog)} versions, {len(catalog.names)} names, "
        f"{len(catalog.signatures)} signatures; packages made in {made - start:.2f} s, "
        f"catalog built in {built - made:.2f} s"
    )

    rnd = random.Random(1)
    kibana_versions: set[str] = set()
    while len(kibana_versions) < args.queries:
        major = rnd.choice([7, 8])
        kibana_versions.add(f"{major}.{rnd.randint(0, 20)}.{rnd.randint(0, 40)}")

    timings, sizes = [], []
    for kibana in sorted(kibana_versions):
        t0 = time.perf_counter()
        body = search(catalog, parse_search_query(f"kibana.version={kibana}"))
        timings.append(time.perf_counter() - t0)
        sizes.append(len(body))
    ms = [t * 1000 for t in timings]
    print(
        f"/search?kibana.version=X ({len(ms)} distinct, uncached): "
        f"p50 {percentile(ms, 50):.3f} ms, p99 {percentile(ms, 99):.3f} ms, "
        f"max {max(ms):.3f} ms, mean body {statistics.mean(sizes) / 1024:.0f} KiB"
    )

    for raw in ("all=true&prerelease=true", "all=true", "category=web&all=true"):
        runs = []
        for _ in range(7):
            t0 = time.perf_counter()
            body = search(catalog, parse_search_query(raw))
            runs.append((time.perf_counter() - t0) * 1000)
        print(
            f"/search?{raw}: median {statistics.median(runs):.1f} ms, "
            f"max {max(runs):.1f} ms, body {len(body) / 1048576:.1f} MiB"
        )

    for raw in ("", "include_policy_templates=true&kibana.version=8.3.0"):
        runs = []
        for _ in range(21):
            t0 = time.perf_counter()
            categories(catalog, parse_categories_query(raw))
            runs.append((time.perf_counter() - t0) * 1000)
        print(f"/categories?{raw}: median {statistics.median(runs):.3f} ms")


if __name__ == "__main__":
    main()

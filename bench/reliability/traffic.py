"""Mixed registry traffic drawn from what a catalog lists, each request with its
expected status.

The mix is what clients of a public registry send: Kibana's ``/search`` and
``/categories`` with many ``kibana.version`` values (one per Kibana build out there) and
filters, package documents, icons and READMEs, zip downloads, and requests for things
that do not exist.
"""

from __future__ import annotations

import json
import random
import urllib.request
from dataclasses import dataclass

from reliability.client import Worker

CATEGORIES = ("security", "observability", "network", "cloud", "custom", "datastore", "web")


@dataclass(frozen=True)
class Listed:
    name: str
    version: str
    description: str
    download: str
    icons: tuple[str, ...]


def listing(port: int, query: str = "all=true&prerelease=true") -> list[Listed]:
    """Every package version ``/search?<query>`` lists."""
    url = f"http://127.0.0.1:{port}/search?{query}"
    with urllib.request.urlopen(url, timeout=60) as answer:
        return parse_listing(answer.read())


def parse_listing(body: bytes | str) -> list[Listed]:
    return [
        Listed(
            item["name"],
            item["version"],
            item.get("description", ""),
            item.get("download", ""),
            tuple(icon["path"] for icon in item.get("icons") or () if "path" in icon),
        )
        for item in json.loads(body)
    ]


class Mix:
    """Picks the next request of a mixed load; ``kibana_versions`` bounds how many
    distinct ``kibana.version`` values appear (a real registry sees hundreds)."""

    def __init__(self, packages: list[Listed], seed: int = 1, kibana_versions: int = 600) -> None:
        self.packages = packages
        self.rng = random.Random(seed)
        rng = random.Random(seed)
        self.kibana = [
            f"{rng.choice((7, 8, 9))}.{rng.randrange(20)}.{rng.randrange(12)}"
            for _ in range(kibana_versions)
        ]
        self.zips = [p for p in packages if p.download]

    def search(self) -> str:
        rng = self.rng
        choice = rng.randrange(8)
        if choice == 0:
            return "/search"
        if choice == 1:
            return f"/search?kibana.version={rng.choice(self.kibana)}"
        if choice == 2:
            category, kibana = rng.choice(CATEGORIES), rng.choice(self.kibana)
            return f"/search?category={category}&kibana.version={kibana}"
        if choice == 3:
            return f"/search?package={rng.choice(self.packages).name}&all=true"
        if choice == 4:
            return "/search?prerelease=true&type=integration"
        if choice == 5:
            return f"/search?kibana.version={rng.choice(self.kibana)}&prerelease=true"
        if choice == 6:
            return "/search?all=true"
        return "/search?spec.min=2.0&spec.max=3.3&type=input"

    def categories(self) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            return "/categories"
        return f"/categories?kibana.version={rng.choice(self.kibana)}&prerelease=true"

    async def one(self, worker: Worker) -> None:
        """One request of the mix, its status checked."""
        rng = self.rng
        package = rng.choice(self.packages)
        base = f"/package/{package.name}/{package.version}"
        roll = rng.random()
        gzip = (("Accept-Encoding", "gzip"),) if rng.random() < 0.5 else ()
        if roll < 0.30:
            await worker.call(self.search(), headers=gzip, kind="search")
        elif roll < 0.40:
            await worker.call(self.categories(), headers=gzip, kind="categories")
        elif roll < 0.60:
            await worker.call(base + "/", headers=gzip, kind="package")
        elif roll < 0.72:
            asset = rng.choice(package.icons) if package.icons else base + "/manifest.yml"
            await worker.call(asset, kind="asset")
        elif roll < 0.77:
            await worker.call(base + "/docs/README.md", kind="readme")
        elif roll < 0.85:
            download = rng.choice(self.zips).download
            await worker.call(download, kind="zip")
        elif roll < 0.88:
            await worker.call("/health", kind="health")
        elif roll < 0.92:
            await worker.call(f"/package/{package.name}/999.0.{rng.randrange(99)}/", (404,))
        elif roll < 0.95:
            await worker.call(base + "/no-such-file.txt", (404,), kind="missing-file")
        elif roll < 0.98:
            await worker.call(f"/epr/nope/nope-1.0.{rng.randrange(9)}.zip", (404,), kind="no-zip")
        else:
            await worker.call(f"/nowhere/{rng.randrange(1000)}", (404,), kind="no-route")

"""The catalog currently served, and the only place it is replaced.

A request reads ``holder.current`` once and uses that snapshot (catalog plus its answer
cache) to the end, so a reload never mixes two catalogs in one answer. Replacing is a
single attribute assignment of an immutable pair; a failed reload keeps the last good one.
What the cache is belongs to the layers above: the holder only makes a fresh one, with
the factory it was given, for each catalog.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from package_registry.catalog.snapshot import Catalog

__all__ = ["CatalogHolder", "Snapshot"]

log = logging.getLogger("package_registry.catalog")

#: Whatever the caller keeps per catalog (the query layer's answer cache).
C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class Snapshot(Generic[C]):
    """A catalog and the answers computed from it; they live and die together."""

    catalog: Catalog
    cache: C


class CatalogHolder(Generic[C]):
    """Holds the current ``Snapshot``; ``swap`` and ``reload`` replace it atomically."""

    def __init__(self, catalog: Catalog, new_cache: Callable[[], C]) -> None:
        self._new_cache = new_cache
        self.current: Snapshot[C] = Snapshot(catalog, new_cache())

    @property
    def catalog(self) -> Catalog:
        return self.current.catalog

    def swap(self, catalog: Catalog) -> Snapshot[C]:
        """Serve ``catalog`` from now on, with a fresh answer cache."""
        snapshot = Snapshot(catalog, self._new_cache())
        self.current = snapshot
        log.info(
            "catalog replaced",
            extra={"catalog.generation": catalog.generation, "catalog.packages": len(catalog)},
        )
        return snapshot

    def reload(self, load: Callable[[], Catalog]) -> bool:
        """Build a new catalog with ``load`` and swap it in.

        When ``load`` raises, the current catalog stays and the reason is logged;
        returns whether the catalog was replaced.
        """
        try:
            catalog = load()
        except Exception as exc:
            log.error(
                "catalog reload failed, keeping generation %d: %s",
                self.current.catalog.generation,
                exc,
                exc_info=True,
            )
            return False
        self.swap(catalog)
        return True

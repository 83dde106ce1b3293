"""Loading the configured package paths in the reference's source order.

The reference indexes every package path twice: once for ``.zip`` files, then once for
unpacked folders, and the zip source wins on duplicates. Each invalid package is logged
once with its path and reason and left out; the rest is served.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from package_registry.config import Settings
from package_registry.packages.limits import DEFAULT_LIMITS, LoadLimits
from package_registry.packages.model import Package
from package_registry.packages.store import MEMORY, open_store
from package_registry.sources.base import Reject
from package_registry.sources.folders import load_folders
from package_registry.sources.reuse import Reuse
from package_registry.sources.walk import shared_listings
from package_registry.sources.zips import load_zips

log = logging.getLogger("package_registry.sources")


@dataclass(frozen=True, slots=True)
class LoadOutcome:
    #: One package list per source, in precedence order (zips, then folders).
    sources: list[list[Package]]
    rejects: list[Reject]

    @property
    def package_count(self) -> int:
        return sum(len(packages) for packages in self.sources)

    def error_text(self) -> str:
        """Every reject's reason, one a line, as the reference joins load errors."""
        return "\n".join(reject.reason for reject in self.rejects)


def load_local_packages(
    paths: Sequence[str],
    *,
    validate: bool,
    require_signatures: bool,
    workers: int,
    limits: LoadLimits = DEFAULT_LIMITS,
    reuse: Reuse | None = None,
    grace: float = 0.0,
) -> LoadOutcome:
    """Load zips then folders from ``paths``; log and collect each invalid package.

    With ``reuse`` (the persistent catalog), unchanged packages come from it; rows this
    load no longer uses are deleted after ``grace`` seconds (workers serving the previous
    catalog may still read them meanwhile).
    """
    if reuse is not None:
        reuse.begin()
    with shared_listings():
        reports = [
            load(
                paths,
                validate=validate,
                require_signatures=require_signatures,
                workers=workers,
                limits=limits,
                reuse=reuse,
            )
            for load in (load_zips, load_folders)
        ]
    if reuse is not None:
        reuse.finish(grace)
    rejects = [reject for report in reports for reject in report.rejects]
    for reject in rejects:
        log.error(
            "invalid package skipped",
            extra={"file.path": reject.path, "error.message": reject.reason},
        )
    return LoadOutcome([list(report.packages) for report in reports], rejects)


def default_catalog_path(environ: Mapping[str, str]) -> str:
    """Where the persistent catalog lives unless ``-catalog-path`` says otherwise: the
    user's cache directory (``$XDG_CACHE_HOME``, else ``~/.cache``)."""
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "package-registry")


def open_catalog(settings: Settings) -> Reuse | None:
    """The persistent catalog for the configured package paths, or ``None`` when it is
    turned off (``-catalog-path=:memory:``) or cannot be used (logged)."""
    if settings.catalog_path == MEMORY or not settings.package_paths:
        return None
    directory = settings.catalog_path or default_catalog_path(os.environ)
    options = (
        not settings.disable_package_validation,
        settings.require_package_signatures,
        LoadLimits.from_settings(settings),
    )
    store = open_store(directory, settings.package_paths, options)
    if store is None:
        return None
    log.info("persistent catalog", extra={"file.path": store.path})
    reuse = Reuse(store)
    reuse.prefetch()
    return reuse


def load_configured_packages(
    settings: Settings, reuse: Reuse | None = None, grace: float = 0.0
) -> LoadOutcome:
    """``load_local_packages`` with the validation, signature, worker and size settings
    of ``settings`` (what the server and ``package-registry build`` load alike)."""
    return load_local_packages(
        settings.package_paths,
        validate=not settings.disable_package_validation,
        require_signatures=settings.require_package_signatures,
        workers=settings.package_paths_workers,
        limits=LoadLimits.from_settings(settings),
        reuse=reuse,
        grace=grace,
    )

"""Loading the configured package paths in the reference's source order.

The reference indexes every package path twice: once for ``.zip`` files, then once for
unpacked folders, and the zip source wins on duplicates. Each invalid package is logged
once with its path and reason and left out; the rest is served.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from package_registry.config import Settings
from package_registry.packages.limits import DEFAULT_LIMITS, LoadLimits
from package_registry.packages.model import Package
from package_registry.sources.base import Reject
from package_registry.sources.folders import load_folders
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
) -> LoadOutcome:
    """Load zips then folders from ``paths``; log and collect each invalid package."""
    with shared_listings():
        reports = [
            load(
                paths,
                validate=validate,
                require_signatures=require_signatures,
                workers=workers,
                limits=limits,
            )
            for load in (load_zips, load_folders)
        ]
    rejects = [reject for report in reports for reject in report.rejects]
    for reject in rejects:
        log.error(
            "invalid package skipped",
            extra={"file.path": reject.path, "error.message": reject.reason},
        )
    return LoadOutcome([list(report.packages) for report in reports], rejects)


def load_configured_packages(settings: Settings) -> LoadOutcome:
    """``load_local_packages`` with the validation, signature, worker and size settings
    of ``settings`` (what the server and ``package-registry build`` load alike)."""
    return load_local_packages(
        settings.package_paths,
        validate=not settings.disable_package_validation,
        require_signatures=settings.require_package_signatures,
        workers=settings.package_paths_workers,
        limits=LoadLimits.from_settings(settings),
    )

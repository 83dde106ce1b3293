"""What every package source hands back: the packages it loaded and the ones it refused.

A bad package never aborts a load. It becomes a ``Reject`` carrying the path and the
reference's error text, so that callers can log it, count it, or fail start-up on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from package_registry.packages.model import Package


@dataclass(frozen=True, slots=True)
class Reject:
    """A package (or package path) that did not load, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class LoadReport:
    """Packages in discovery order (duplicates removed) and everything refused."""

    packages: list[Package] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

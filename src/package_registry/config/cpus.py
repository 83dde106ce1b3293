"""How many CPUs this process may use: its affinity, lowered by a container's CPU quota.

A pod limited to one CPU on a 64-core node sees 64 CPUs in its affinity mask; starting
64 workers there only multiplies memory and throttling. As Go 1.25's runtime does for
the default ``GOMAXPROCS`` (``adjustCgroupGOMAXPROCS`` in ``runtime/cgroup_linux.go``),
the CPU bandwidth limit of the process's cgroup (v2 ``cpu.max``, or v1
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``) is rounded up, raised to at least 2, and
used when it is below the affinity count. Like Go, only the process's own (leaf) cgroup
is read. Unlike Go, the hierarchy is looked for under one root (``/sys/fs/cgroup``, where
container runtimes mount it) instead of being found through ``/proc/self/mountinfo``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
#: Go's floor for a CPU-limited GOMAXPROCS: one CPU of quota still gets two threads.
MIN_LIMITED = 2


@dataclass(frozen=True, slots=True)
class CpuCount:
    count: int
    #: Why ``count``, for the start-up log.
    reason: str


def affinity_count() -> int:
    """CPUs in this process's affinity mask (all CPUs where there is no such call)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not available on macOS or Windows
        return os.cpu_count() or 1


def available_cpus(
    cgroup_root: Path = CGROUP_ROOT,
    proc_cgroup: Path = PROC_CGROUP,
    affinity: int | None = None,
) -> CpuCount:
    """The CPU count to size worker pools by, and why."""
    cpus = affinity_count() if affinity is None else affinity
    limit = cgroup_cpu_limit(cgroup_root, proc_cgroup)
    if limit is None:
        return CpuCount(cpus, f"{cpus} CPUs in the affinity mask, no cgroup CPU limit")
    quota, source = limit
    limited = max(MIN_LIMITED, math.ceil(quota))
    if limited < cpus:
        return CpuCount(
            limited,
            f"cgroup CPU limit {quota:g} ({source}) rounded up, at least {MIN_LIMITED}, "
            f"below the {cpus} CPUs in the affinity mask",
        )
    return CpuCount(
        cpus, f"{cpus} CPUs in the affinity mask, within the cgroup CPU limit {quota:g}"
    )


def cgroup_cpu_limit(cgroup_root: Path, proc_cgroup: Path) -> tuple[float, str] | None:
    """The CPU bandwidth limit in CPUs and the file it came from, or ``None`` (no limit,
    not Linux, or no readable cgroup files)."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    v1: tuple[str, str] | None = None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            for directory in _candidates(cgroup_root, path):
                found = _read_v2(directory / "cpu.max")
                if found is not False:
                    return None if found is None else (found, str(directory / "cpu.max"))
        elif "cpu" in controllers.split(","):
            v1 = (controllers, path)
    if v1 is not None:
        controllers, path = v1
        for mount in (cgroup_root / controllers, cgroup_root / "cpu"):
            for directory in _candidates(mount, path):
                found = _read_v1(directory)
                if found is not False:
                    return None if found is None else (found, str(directory / "cpu.cfs_quota_us"))
    return None


def _candidates(mount: Path, path: str) -> list[Path]:
    """The cgroup's own directory, then the mount's root (a container's cgroup namespace
    shows its own cgroup there)."""
    own = mount / path.lstrip("/")
    return [own, mount] if own != mount else [mount]


def _read_v2(cpu_max: Path) -> float | bool | None:
    """CPUs allowed by a ``cpu.max`` file, ``None`` for ``max``, ``False`` if unreadable."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota == "max":
            return None
        return int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return False


def _read_v1(directory: Path) -> float | bool | None:
    """CPUs allowed by v1 CFS files, ``None`` for no quota (-1), ``False`` if unreadable."""
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
        if quota < 0:
            return None
        return quota / period
    except (OSError, ValueError, ZeroDivisionError):
        return False

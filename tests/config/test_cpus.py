"""The CPU count worker pools are sized by, from fake cgroup files (``config/cpus.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from package_registry.config.cpus import available_cpus


def fake_v2(root: Path, cpu_max: str | None, path: str = "/") -> Path:
    proc = root / "proc-cgroup"
    proc.write_text(f"0::{path}\n")
    directory = root / "sys" / path.lstrip("/")
    directory.mkdir(parents=True, exist_ok=True)
    if cpu_max is not None:
        (directory / "cpu.max").write_text(cpu_max + "\n")
    return proc


def fake_v1(root: Path, quota: int, period: int = 100000, path: str = "/docker/abc") -> Path:
    proc = root / "proc-cgroup"
    proc.write_text(f"12:memory:{path}\n4:cpu,cpuacct:{path}\n1:name=systemd:{path}\n")
    directory = root / "sys" / "cpu,cpuacct" / path.lstrip("/")
    directory.mkdir(parents=True)
    (directory / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (directory / "cpu.cfs_period_us").write_text(f"{period}\n")
    return proc


@pytest.mark.parametrize(
    ("cpu_max", "affinity", "expected"),
    [
        ("max 100000", 64, 64),  # no limit: the affinity mask
        ("100000 100000", 64, 2),  # one CPU: at least 2, as Go
        ("50000 100000", 64, 2),
        ("150000 100000", 64, 2),  # 1.5 rounds up to 2
        ("250000 100000", 64, 3),  # 2.5 rounds up to 3
        ("800000 100000", 4, 4),  # a limit above the affinity mask changes nothing
        ("100000 100000", 1, 1),  # the minimum of 2 never exceeds the CPUs there are
    ],
)
def test_cgroup_v2_cpu_max(tmp_path, cpu_max, affinity, expected):
    proc = fake_v2(tmp_path, cpu_max)
    found = available_cpus(tmp_path / "sys", proc, affinity=affinity)
    assert found.count == expected
    assert found.reason


def test_cgroup_v2_reads_the_process_own_cgroup(tmp_path):
    proc = fake_v2(tmp_path, "300000 100000", path="/kubepods/pod1/c1")
    found = available_cpus(tmp_path / "sys", proc, affinity=64)
    assert found.count == 3
    assert "cgroup CPU limit 3" in found.reason
    assert "kubepods/pod1/c1/cpu.max" in found.reason


@pytest.mark.parametrize(("quota", "expected"), [(-1, 16), (100000, 2), (350000, 4)])
def test_cgroup_v1_cfs_quota(tmp_path, quota, expected):
    proc = fake_v1(tmp_path, quota)
    assert available_cpus(tmp_path / "sys", proc, affinity=16).count == expected


def test_no_cgroup_files_means_the_affinity_mask(tmp_path):
    assert available_cpus(tmp_path / "sys", tmp_path / "missing", affinity=8).count == 8
    proc = fake_v2(tmp_path, None)  # a cgroup without the cpu controller
    assert available_cpus(tmp_path / "sys", proc, affinity=8).count == 8
    (tmp_path / "sys" / "cpu.max").write_text("garbage\n")
    assert available_cpus(tmp_path / "sys", proc, affinity=8).count == 8

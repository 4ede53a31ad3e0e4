"""Usable CPUs: affinity mask limited by cgroup v1/v2 quotas, from fake cgroup trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corral.worker.cpus import (
    cgroup_cpu_limit,
    keep_to,
    limit_to_quota,
    parse_cfs_quota,
    parse_cpu_max,
    usable_cpus,
)

V2_SELF = "0::/app.slice/job\n"
V1_SELF = "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("max 100000\n", None), ("150000 100000\n", 1.5), ("50000 100000", 0.5), ("", None)],
)
def test_parse_cpu_max(text: str, expected: float | None) -> None:
    assert parse_cpu_max(text) == expected


@pytest.mark.parametrize(
    ("quota", "period", "expected"),
    [("-1\n", "100000\n", None), ("200000", "100000", 2.0), ("x", "100000", None)],
)
def test_parse_cfs_quota(quota: str, period: str, expected: float | None) -> None:
    assert parse_cfs_quota(quota, period) == expected


@pytest.mark.parametrize(
    ("quota", "expected"),
    [(None, [0, 2, 4, 6]), (1.5, [0, 2]), (0.2, [0]), (4.0, [0, 2, 4, 6]), (16.0, [0, 2, 4, 6])],
)
def test_limit_to_quota_takes_the_first_ceil_quota_ids(
    quota: float | None, expected: list[int]
) -> None:
    assert limit_to_quota([0, 2, 4, 6], quota) == expected


def test_v2_quota_of_the_own_cgroup(tmp_path: Path) -> None:
    write(tmp_path / "app.slice/job/cpu.max", "250000 100000\n")
    assert usable_cpus(range(8), tmp_path, V2_SELF) == [0, 1, 2]


def test_v2_tightest_ancestor_wins(tmp_path: Path) -> None:
    write(tmp_path / "app.slice/cpu.max", "100000 100000\n")
    write(tmp_path / "app.slice/job/cpu.max", "max 100000\n")
    assert cgroup_cpu_limit(V2_SELF, tmp_path) == 1.0


def test_v2_in_a_container_reads_the_mount_root(tmp_path: Path) -> None:
    # The host path is not visible inside the container's cgroup namespace.
    write(tmp_path / "cpu.max", "200000 100000\n")
    assert usable_cpus([3, 5, 7, 9], tmp_path, V2_SELF) == [3, 5]


def test_v2_unlimited_keeps_the_affinity_mask(tmp_path: Path) -> None:
    write(tmp_path / "app.slice/job/cpu.max", "max 100000\n")
    assert usable_cpus({5, 1, 3}, tmp_path, V2_SELF) == [1, 3, 5]


def test_v1_cfs_quota(tmp_path: Path) -> None:
    write(tmp_path / "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "150000\n")
    write(tmp_path / "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    assert usable_cpus(range(4), tmp_path, V1_SELF) == [0, 1]


def test_v1_unlimited(tmp_path: Path) -> None:
    write(tmp_path / "cpu/cpu.cfs_quota_us", "-1\n")
    write(tmp_path / "cpu/cpu.cfs_period_us", "100000\n")
    assert usable_cpus(range(4), tmp_path, V1_SELF) == [0, 1, 2, 3]


def test_no_cgroup_information(tmp_path: Path) -> None:
    assert usable_cpus([2, 1], tmp_path, "") == [1, 2]


def test_this_process_gets_a_subset_of_its_affinity() -> None:
    cpus = usable_cpus()
    assert cpus and set(cpus) <= os.sched_getaffinity(0)


def test_keep_to_the_cpus_the_master_gave() -> None:
    assert keep_to([0, 1, 2, 3], "1,3") == [1, 3]
    assert keep_to([0, 1], None) == keep_to([0, 1], "") == [0, 1]
    # Ids it may not use, or a value it cannot read, leave every usable one.
    assert keep_to([0, 1], "7") == keep_to([0, 1], "x,1") == [0, 1]

"""The concrete CPU ids this process may use: affinity mask, limited by a cgroup quota."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
# Where cgroup v1 mounts the cpu controller, depending on the distribution.
V1_CPU_MOUNTS = ("cpu,cpuacct", "cpuacct,cpu", "cpu")


def usable_cpus(
    affinity: Iterable[int] | None = None,
    cgroup_root: Path = CGROUP_ROOT,
    self_cgroup: str | None = None,
) -> list[int]:
    """Return the sorted CPU ids this process may run on, at least one."""
    ids = sorted(set(affinity if affinity is not None else _affinity()))
    if self_cgroup is None:
        self_cgroup = _read(PROC_SELF_CGROUP) or ""
    return limit_to_quota(ids, cgroup_cpu_limit(self_cgroup, cgroup_root))


def keep_to(cpu_ids: list[int], given: str | None) -> list[int]:
    """The usable ids among those the master gave ("0,1"); all of them if none is usable."""
    if not given:
        return cpu_ids
    try:
        wanted = {int(part) for part in given.split(",")}
    except ValueError:
        return cpu_ids
    return [cpu for cpu in cpu_ids if cpu in wanted] or cpu_ids


def limit_to_quota(cpu_ids: list[int], quota: float | None) -> list[int]:
    """Keep the first ceil(quota) ids when the quota allows fewer CPUs than the mask."""
    if quota is None or quota <= 0:
        return cpu_ids
    allowed = max(1, math.ceil(quota))
    return cpu_ids[:allowed] if allowed < len(cpu_ids) else cpu_ids


def cgroup_cpu_limit(self_cgroup: str, cgroup_root: Path) -> float | None:
    """The CPU quota (in CPUs) of this process's cgroup, or None when unlimited."""
    v1_path: str | None = None
    v2_path: str | None = None
    for line in self_cgroup.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2_path = path
        elif "cpu" in controllers.split(","):
            v1_path = path
    # On a hybrid host the cpu controller lives in v1, the unified tree has none.
    if v1_path is not None:
        return _v1_limit(cgroup_root, v1_path)
    if v2_path is not None:
        return _v2_limit(cgroup_root, v2_path)
    return None


def parse_cpu_max(text: str) -> float | None:
    """Parse a cgroup v2 ``cpu.max`` ("max 100000" or "150000 100000")."""
    fields = text.split()
    if not fields or fields[0] == "max":
        return None
    try:
        quota = int(fields[0])
        period = int(fields[1]) if len(fields) > 1 else 100_000
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def parse_cfs_quota(quota_text: str, period_text: str) -> float | None:
    """Parse cgroup v1 ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us`` (-1 is unlimited)."""
    try:
        quota = int(quota_text.strip())
        period = int(period_text.strip())
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v2_limit(root: Path, path: str) -> float | None:
    """The tightest ``cpu.max`` from this cgroup up to the root of the mount."""
    limits = []
    for directory in _upward(root, path):
        text = _read(directory / "cpu.max")
        if text is not None:
            limits.append(parse_cpu_max(text))
    return _tightest(limits)


def _v1_limit(root: Path, path: str) -> float | None:
    """The tightest CFS quota from this cgroup up to the root of the cpu mount."""
    mount = next((root / m for m in V1_CPU_MOUNTS if (root / m).is_dir()), None)
    if mount is None:
        return None
    limits = []
    for directory in _upward(mount, path):
        quota = _read(directory / "cpu.cfs_quota_us")
        period = _read(directory / "cpu.cfs_period_us")
        if quota is not None and period is not None:
            limits.append(parse_cfs_quota(quota, period))
    return _tightest(limits)


def _upward(mount: Path, path: str) -> Iterator[Path]:
    """The cgroup's directory and its ancestors that exist under ``mount``.

    Inside a container the path from /proc/self/cgroup may name a host cgroup
    that is not visible; then only the mount root (the container's own) is found.
    """
    parts = [p for p in path.split("/") if p]
    for depth in range(len(parts), -1, -1):
        directory = mount.joinpath(*parts[:depth])
        if directory.is_dir():
            yield directory


def _tightest(limits: list[float | None]) -> float | None:
    """The smallest of the limits that are set, or None."""
    set_limits = [limit for limit in limits if limit is not None]
    return min(set_limits) if set_limits else None


def _affinity() -> Iterable[int]:
    """The affinity mask of this process."""
    if hasattr(os, "sched_getaffinity"):
        return os.sched_getaffinity(0)
    # Platforms without affinity masks (macOS) do not restrict a process to a
    # subset, so every logical CPU is usable.
    import psutil

    return range(psutil.cpu_count(logical=True) or 1)


def _read(path: Path) -> str | None:
    """A small file's text, or None if it cannot be read."""
    try:
        return path.read_text()
    except OSError:
        return None

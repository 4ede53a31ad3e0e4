"""Job cgroups on cgroup v2: the files on a folder tree, and the gate on a real hierarchy.

This machine mounts its controllers as v1; its unified hierarchy (at
/sys/fs/cgroup/unified) has no controller but takes cgroups, cgroup.procs moves,
cgroup.kill and cpu.stat, which is what the gate and killing need. The memory
files are checked on a folder tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.worker.cgroup_v2 import CgroupV2, V2Group
from corral.worker.cgroups import Usage
from corral.worker.containment import cgroup_prefix, own_cgroups
from corral.worker.job_process import SpawnFailed

from .job_runs import BUSY, ESCAPE, all_stdout, job, start, stdout_line, wait_exit
from .procs import alive, wait_dead


def fake_group(tmp_path: Path, files: dict[str, str]) -> V2Group:
    """A v2 job cgroup on a folder tree, holding ``files``."""
    path = tmp_path / "corral-w1-0.1.1"
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    return V2Group(path.name, None, path)


def test_a_memory_limit_caps_memory_forbids_swap_and_kills_the_whole_group(
    tmp_path: Path,
) -> None:
    group = fake_group(tmp_path, {"memory.max": "", "memory.swap.max": ""})
    group.limit_memory(50 << 20)
    files = {name: (group.path / name).read_text() for name in ("memory.max", "memory.swap.max")}
    assert files == {"memory.max": str(50 << 20), "memory.swap.max": "0"}
    assert not (group.path / "memory.oom.group").exists(), "absent files are left alone"


def test_usage_and_oom_kills_are_read_from_the_v2_files(tmp_path: Path) -> None:
    group = fake_group(
        tmp_path,
        {
            "memory.peak": "73400320\n",
            "cpu.stat": "usage_usec 1250000\nuser_usec 1000000\nsystem_usec 250000\n",
            "memory.events": "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n",
        },
    )
    usage = group.usage()
    assert (usage.max_rss_bytes, usage.cpu_seconds, usage.oom_kills) == (73400320, 1.25, 1)
    assert V2Group("bare", None, tmp_path).usage() == Usage(), "nothing counted, nothing said"


def test_without_cgroup_kill_the_group_is_frozen_killed_and_thawed(tmp_path: Path) -> None:
    victim = subprocess.Popen(["sleep", "300"])
    try:
        group = fake_group(
            tmp_path,
            {
                "cgroup.procs": f"{victim.pid}\n",
                "cgroup.events": "populated 1\nfrozen 1\n",
                "cgroup.freeze": "",
            },
        )
        group.kill()
        assert victim.wait(5) == -9
        assert (group.path / "cgroup.freeze").read_text() == "0", "frozen, then thawed"
    finally:
        victim.kill()
        victim.wait()


def unified_home() -> Path | None:
    """This process's cgroup in a mounted unified hierarchy it may create cgroups in."""
    own = own_cgroups(Path("/proc/self/cgroup").read_text()).get("", "/")
    for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        home = root / own.lstrip("/")
        if (root / "cgroup.controllers").exists() and os.access(home, os.W_OK):
            return home
    return None


HOME = unified_home()
needs_v2 = pytest.mark.skipif(
    HOME is None, reason="needs a writable cgroup v2 hierarchy; this host has none"
)


@pytest.fixture
def containment(tmp_path: Path) -> Iterator[CgroupV2]:
    """v2 containment in this process's unified cgroup, as it is (nothing delegated)."""
    assert HOME is not None
    memory = "memory" in (HOME / "cgroup.subtree_control").read_text().split()
    found = CgroupV2(cgroup_prefix("t", tmp_path), HOME, memory)
    yield found
    found.sweep()
    found.close()
    assert found.existing() == []


@needs_v2
def test_the_gate_execs_the_program_inside_its_cgroup(containment: CgroupV2) -> None:
    running = start(job(["cat", "/proc/self/cgroup"]), containment)
    group = running.cgroup
    assert isinstance(group, V2Group) and group.path.is_dir()
    assert wait_exit(running) == 0
    path = own_cgroups(all_stdout(running))[""]
    assert path.endswith("/" + group.name)
    running.release()
    assert not group.path.exists()


@needs_v2
def test_what_left_the_process_group_dies_with_the_gated_job(containment: CgroupV2) -> None:
    running = start(job(["/bin/sh", "-c", ESCAPE + "exit 0"]), containment)
    grandchild = int(stdout_line(running))
    assert alive(grandchild)
    assert wait_exit(running) == 0
    wait_dead([grandchild])
    usage = running.release()
    assert usage.max_rss_bytes is not None and usage.max_rss_bytes > 0, "from wait4"


@needs_v2
def test_cpu_time_comes_from_cpu_stat(containment: CgroupV2) -> None:
    running = start(job([sys.executable, "-c", BUSY]), containment)
    group = running.cgroup
    assert isinstance(group, V2Group)
    assert wait_exit(running) == 0
    counted = group.usage().cpu_seconds
    assert counted is not None and 0.2 < counted < 5
    assert running.release().cpu_seconds == pytest.approx(counted, abs=0.05)


@needs_v2
def test_a_missing_program_fails_to_spawn_and_leaves_no_cgroup(containment: CgroupV2) -> None:
    with pytest.raises(SpawnFailed, match="No such file or directory: /no/such/program"):
        start(job(["/no/such/program"]), containment)
    with pytest.raises(SpawnFailed, match="No such file or directory: no-such-program"):
        start(job(["no-such-program"]), containment)
    assert containment.existing() == []

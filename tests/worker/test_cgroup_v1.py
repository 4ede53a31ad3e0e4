"""Job cgroups on cgroup v1, for real: born inside, killed whole, limited, measured, swept."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.worker.cgroup_v1 import CgroupV1, V1Group
from corral.worker.cgroups import write_text
from corral.worker.containment import cgroup_prefix, detect
from corral.worker.containment import own_cgroups as parse_own

from .job_runs import BUSY, ESCAPE, all_stdout, job, start, stdout_line, wait_exit
from .procs import alive, wait_dead


def v1_containment(prefix: str) -> CgroupV1 | None:
    """cgroup v1 containment under ``prefix``, if this host and user have it."""
    found = detect(prefix)
    return found if isinstance(found, CgroupV1) else None


pytestmark = pytest.mark.skipif(
    v1_containment("corral-probe") is None,
    reason="needs cgroup v1 hierarchies this user may create groups in (root on a v1 host)",
)


@pytest.fixture
def containment(tmp_path: Path) -> Iterator[CgroupV1]:
    """The containment of a worker whose state folder is this test's; swept afterwards."""
    found = v1_containment(cgroup_prefix("t", tmp_path))
    assert found is not None
    yield found
    found.sweep()
    found.close()
    assert found.existing() == []


def own_cgroups(path: str) -> dict[str, str]:
    """controller -> cgroup path, from a /proc/.../cgroup file."""
    return parse_own(Path(path).read_text())


def test_the_program_is_born_in_its_cgroups_and_the_spawner_goes_home(
    containment: CgroupV1,
) -> None:
    before = own_cgroups("/proc/thread-self/cgroup")
    running = start(job(["cat", "/proc/self/cgroup"]), containment)
    assert own_cgroups("/proc/thread-self/cgroup") == before
    group = running.cgroup
    assert isinstance(group, V1Group) and set(group.dirs) == {"freezer", "memory", "cpuacct"}
    assert wait_exit(running) == 0
    seen = parse_own(all_stdout(running))
    for controller, path in group.dirs.items():
        assert seen[controller].endswith("/" + group.name), (controller, seen)
        assert path.is_dir()
    running.release()
    assert not any(path.exists() for path in group.dirs.values()), "cgroup removed"


def test_what_left_the_process_group_dies_with_the_job(containment: CgroupV1) -> None:
    running = start(job(["/bin/sh", "-c", ESCAPE + "exit 0"]), containment)
    grandchild = int(stdout_line(running))
    assert alive(grandchild)
    assert wait_exit(running) == 0
    wait_dead([grandchild])
    running.release()


def test_a_job_over_its_memory_limit_is_killed_and_called_oom(containment: CgroupV1) -> None:
    hog = "x = b'x' * (200 << 20)\nprint('survived')\n"
    running = start(job([sys.executable, "-c", hog], memory_mb=50), containment)
    group = running.cgroup
    assert isinstance(group, V1Group)
    limit = (group.dirs["memory"] / "memory.limit_in_bytes").read_text()
    assert int(limit) == 50 << 20
    assert wait_exit(running) == -9
    usage = running.release()
    assert usage.oom_kills >= 1
    assert usage.max_rss_bytes is not None and 40 << 20 < usage.max_rss_bytes <= 50 << 20
    assert running.verdict(usage) == ("oom", "out of memory (limit 50 MB)")


def test_a_shell_reporting_its_child_killed_out_of_memory_is_oom(containment: CgroupV1) -> None:
    hog = f"{sys.executable} -c \"x = b'x' * (200 << 20)\""
    running = start(job(["/bin/sh", "-c", hog], memory_mb=50), containment)
    assert wait_exit(running) == 128 + 9
    assert running.verdict(running.release())[0] == "oom"


def test_a_job_under_its_limit_runs_and_reports_what_it_used(containment: CgroupV1) -> None:
    code = BUSY + "x = b'x' * (20 << 20)\n"
    running = start(job([sys.executable, "-c", code], memory_mb=100), containment)
    assert wait_exit(running) == 0
    usage = running.release()
    assert running.verdict(usage) == (None, None)
    assert usage.cpu_seconds is not None and 0.2 < usage.cpu_seconds < 5
    assert usage.max_rss_bytes is not None and 20 << 20 < usage.max_rss_bytes < 100 << 20


def test_sweep_kills_and_removes_only_this_workers_job_cgroups(
    containment: CgroupV1, tmp_path: Path
) -> None:
    left = start(job(["/bin/sh", "-c", ESCAPE + "sleep 300"]), containment)
    grandchild = int(stdout_line(left))
    group = left.cgroup
    assert isinstance(group, V1Group)
    other = v1_containment(cgroup_prefix("other", tmp_path))
    assert other is not None
    bystander = other.make(f"{other.prefix}.1.1", None)
    not_a_job = containment.homes["freezer"] / f"{containment.prefix}.worker"
    not_a_job.mkdir()
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        write_text(bystander.dirs["freezer"] / "cgroup.procs", str(sleeper.pid))
        successor = v1_containment(containment.prefix)
        assert successor is not None
        assert successor.sweep() == 1
        wait_dead([left.pid, grandchild])
        assert not any(path.exists() for path in group.dirs.values())
        assert alive(sleeper.pid) and not_a_job.is_dir()
        assert bystander.pids() == [sleeper.pid]
    finally:
        sleeper.kill()
        sleeper.wait()
        left.reap()
        not_a_job.rmdir()
        other.release(bystander)
    left.cgroup = None  # swept already


def test_a_stale_group_of_the_same_name_is_replaced(containment: CgroupV1) -> None:
    stale = containment.make(f"{containment.prefix}.7.2", None)
    fresh = containment.create(7, 2, None)
    assert fresh.name == stale.name and fresh.pids() == []
    containment.release(fresh)
    assert containment.existing() == []

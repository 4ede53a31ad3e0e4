"""Which containment a worker finds: parsing /proc, naming, v2 set-up on a folder tree."""

from __future__ import annotations

from pathlib import Path

from corral.worker.cgroup_v1 import CgroupV1
from corral.worker.cgroup_v2 import CgroupV2, delegate_memory
from corral.worker.containment import cgroup_mounts, cgroup_prefix, detect, own_cgroups

MOUNTINFO = """\
25 1 0:23 / /sys rw,nosuid - sysfs sysfs rw
31 25 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:5 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/my\\040freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
PROC_CGROUP = """\
4:memory:/docker/abc/job
2:cpu,cpuacct:/
6:freezer:/outside
0::/
"""


def test_own_cgroups_and_mounts_are_read_from_proc() -> None:
    own = own_cgroups(PROC_CGROUP)
    assert own == {
        "memory": "/docker/abc/job",
        "cpu": "/",
        "cpuacct": "/",
        "freezer": "/outside",
        "": "/",
    }
    mounts = cgroup_mounts(MOUNTINFO)
    assert mounts["cpuacct"] == (Path("/sys/fs/cgroup/cpu,cpuacct"), "/")
    assert mounts["memory"] == (Path("/sys/fs/cgroup/memory"), "/docker/abc")
    assert mounts["freezer"] == (Path("/sys/fs/cgroup/my freezer"), "/")
    assert mounts[""] == (Path("/sys/fs/cgroup/unified"), "/")
    assert "sysfs" not in mounts and "rw" not in mounts


def test_prefix_names_the_worker_and_its_state_folder(tmp_path: Path) -> None:
    first = cgroup_prefix("w1", tmp_path / "a")
    assert first == cgroup_prefix("w1", tmp_path / "a"), "a restart finds its predecessor's"
    assert first.startswith("corral-w1-") and "." not in first
    assert first != cgroup_prefix("w1", tmp_path / "b") != cgroup_prefix("w2", tmp_path / "a")
    assert cgroup_prefix("../odd id.x", None).startswith("corral-___odd_id_x-")


def fake_proc(tmp_path: Path, cgroup: str, mountinfo: str) -> Path:
    """A folder standing in for /proc/self."""
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text(cgroup)
    (proc / "mountinfo").write_text(mountinfo)
    return proc


def fake_v2_cgroup(path: Path, controllers: str, subtree: str = "") -> Path:
    """A folder with the files of a v2 cgroup."""
    path.mkdir(parents=True)
    (path / "cgroup.controllers").write_text(controllers + "\n")
    (path / "cgroup.subtree_control").write_text(subtree + "\n")
    (path / "cgroup.procs").write_text("")
    return path


def test_v2_is_chosen_when_the_unified_hierarchy_is_at_the_root(tmp_path: Path) -> None:
    root = fake_v2_cgroup(tmp_path / "cgroup", "cpu memory pids")
    home = fake_v2_cgroup(root / "system.slice" / "corral.service", "cpu memory pids")
    mountinfo = f"40 31 0:37 / {root} rw,relatime - cgroup2 cgroup2 rw\n"
    proc = fake_proc(tmp_path, "0::/system.slice/corral.service\n", mountinfo)
    found = detect("corral-w1-0", root=root, proc=proc)
    assert isinstance(found, CgroupV2)
    assert (found.name, found.home, found.memory_limits) == ("cgroup v2", home, True)
    assert (home / "cgroup.subtree_control").read_text() == "+memory"


def test_no_controllers_or_no_proc_means_process_groups(tmp_path: Path) -> None:
    assert detect("p", root=tmp_path, proc=tmp_path / "missing") is None
    proc = fake_proc(tmp_path, "4:memory:/\n", "")
    assert detect("p", root=tmp_path / "nothing", proc=proc) is None, "no v1 mount either"


def test_v1_takes_the_hierarchies_it_finds(tmp_path: Path) -> None:
    homes = {c: tmp_path / c for c in ("freezer", "memory", "pids")}
    for home in homes.values():
        home.mkdir()
        (home / "tasks").write_text("")
    mountinfo = "".join(
        f"3{i} 31 0:3{i} / {home} rw - cgroup cgroup rw,{c}\n"
        for i, (c, home) in enumerate(homes.items())
    )
    proc = fake_proc(tmp_path, "6:freezer:/\n4:memory:/\n8:pids:/\n", mountinfo)
    found = detect("p", root=tmp_path / "no-v2", proc=proc)
    assert isinstance(found, CgroupV1)
    assert found.homes == {"freezer": homes["freezer"], "memory": homes["memory"]}
    assert found.memory_limits


def test_memory_is_delegated_only_where_the_controller_is_available(tmp_path: Path) -> None:
    enabled = fake_v2_cgroup(tmp_path / "on", "memory", "cpu memory")
    assert delegate_memory(enabled, "leaf")
    assert (enabled / "cgroup.subtree_control").read_text() == "cpu memory\n", "left as it was"
    missing = fake_v2_cgroup(tmp_path / "off", "cpu pids")
    assert not delegate_memory(missing, "leaf")
    assert (missing / "cgroup.subtree_control").read_text() == "\n"

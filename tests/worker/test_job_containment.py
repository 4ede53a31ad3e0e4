"""The real worker contains its jobs in cgroups: nothing they start outlives them, memory
limits hold, usage is reported, and the worker says which containment it uses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import corral
from corral.protocol import Assignment, JobEvent
from corral.worker.cgroup_v1 import CgroupV1
from corral.worker.containment import cgroup_prefix, detect
from waiting import wait_for

from .conftest import SpawnWorker
from .fake_master import TOKEN, FakeMaster, assignment
from .job_runs import BUSY, ESCAPE
from .jobs import python, wait_finished
from .procs import alive, wait_dead
from .worker_process import clean_env

FAST = ("--kill-grace", "0.2")
HOG = "x = b'x' * (200 << 20)\nprint('survived')\n"
V1 = isinstance(detect("corral-probe"), CgroupV1)
needs_v1 = pytest.mark.skipif(
    not V1, reason="needs cgroup v1 hierarchies this user may create groups in (root on a v1 host)"
)


@pytest.fixture
def swept(tmp_path: Path) -> Iterator[None]:
    """After the test (and its workers): no job cgroup of the test's worker is left."""
    yield
    containment = detect(cgroup_prefix("w1", tmp_path / "state"))
    if containment is not None:
        left = [group.name for group in containment.existing()]
        containment.sweep()
        assert left == [], "job cgroups left behind"


def with_memory(spec: Assignment, memory_mb: int) -> Assignment:
    """The assignment with a memory limit."""
    spec["memory_mb"] = memory_mb
    return spec


def escaping(job_id: int, tail: str, timeout_s: float | None = None) -> Assignment:
    """A shell job that starts a setsid'd grandchild, prints its pid, then runs ``tail``."""
    return assignment(job_id, ["/bin/sh", "-c", ESCAPE + tail], timeout_s=timeout_s)


def grandchild_of(master: FakeMaster, job_id: int) -> int:
    """The pid an ``escaping`` job printed."""
    return int(wait_for(lambda: master.output(job_id).strip(), what=f"job {job_id}'s grandchild"))


def used(event: JobEvent) -> tuple[int, float]:
    """Peak memory and CPU seconds of a finished event, both reported."""
    peak, seconds = event.get("max_rss_bytes"), event.get("cpu_seconds")
    assert peak is not None and seconds is not None, event
    return peak, seconds


def containment_said(master: FakeMaster) -> str:
    """What the worker's registration said of its containment."""
    registrations = wait_for(master.registrations, what="a registration")
    said: str = registrations[-1].body["containment"]
    return said


@needs_v1
def test_the_worker_says_it_contains_jobs_in_cgroup_v1(
    swept: None, master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(master.url)
    assert containment_said(master) == "cgroup v1"
    wait_for(lambda: "jobs run in cgroup v1" in worker.log(), what="the log line")


@needs_v1
@pytest.mark.parametrize("ending", ["exit", "cancel", "timeout"])
def test_a_setsid_grandchild_dies_with_its_job(
    swept: None, master: FakeMaster, spawn_worker: SpawnWorker, ending: str
) -> None:
    spawn_worker(master.url, extra_args=FAST)
    tail = {"exit": "exit 0", "cancel": "sleep 300", "timeout": "sleep 300"}[ending]
    master.assign(escaping(1, tail, timeout_s=1.0 if ending == "timeout" else None))
    grandchild = grandchild_of(master, 1)
    if ending == "cancel":
        master.cancel(1)
    finished = wait_finished(master, 1)
    wait_dead([grandchild])
    expected = {"exit": None, "cancel": "cancelled", "timeout": "timeout"}[ending]
    assert finished["reason"] == expected


@needs_v1
def test_memory_limits_hold_and_usage_is_reported(
    swept: None, master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    spawn_worker(master.url, extra_args=FAST)
    master.assign(
        with_memory(assignment(1, python(HOG)), 50),
        with_memory(assignment(2, python("x = b'x' * (20 << 20)")), 100),
        assignment(3, python(BUSY)),
    )
    hog, fits, busy = (wait_finished(master, job_id) for job_id in (1, 2, 3))
    said = (hog["signal"], hog["reason"], hog["detail"])
    assert said == (9, "oom", "out of memory (limit 50 MB)")
    assert "survived" not in master.output(1)
    assert 40 << 20 < used(hog)[0] <= 50 << 20
    assert (fits["exit_code"], fits["reason"]) == (0, None)
    assert 20 << 20 < used(fits)[0] < 100 << 20
    peak, seconds = used(busy)
    assert 0.2 < seconds < 5 and peak > 0


def test_with_cgroups_off_jobs_have_process_groups_and_wait4_usage(
    swept: None, master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    spawn_worker(master.url, env={"CORRAL_WORKER_CGROUPS": "off"})
    assert containment_said(master) == "process groups"
    master.assign(assignment(1, python(BUSY)), with_memory(assignment(2, ["true"]), 50))
    busy = wait_finished(master, 1)
    peak, seconds = used(busy)
    assert busy["exit_code"] == 0 and 0.2 < seconds < 5
    assert peak > 1 << 20, "the leader's peak, from wait4"
    assert wait_finished(master, 2)["exit_code"] == 0, "an unenforceable limit does not fail it"


def test_a_bad_cgroups_setting_is_a_usage_error(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(master.url, env={"CORRAL_WORKER_CGROUPS": "maybe"})
    assert worker.wait() == 2
    assert "CORRAL_WORKER_CGROUPS must be on or off, not 'maybe'" in worker.log()
    off = spawn_worker(master.url, extra_args=("--no-cgroups",))
    assert containment_said(master) == "process groups"
    off.send(signal.SIGTERM)
    assert off.wait() == 0


@needs_v1
def test_the_next_start_kills_and_removes_what_a_killed_worker_left(
    swept: None, master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(master.url)
    master.assign(escaping(1, "sleep 300"))
    grandchild = grandchild_of(master, 1)
    started = master.started(1)
    assert started is not None
    leader = started["pid"]
    worker.send(signal.SIGKILL)
    worker.wait()
    assert alive(leader) and alive(grandchild)
    successor = spawn_worker(master.url)
    wait_dead([leader, grandchild])
    wait_for(lambda: "job cgroup(s) left by a previous run" in successor.log(), what="the sweep")
    told = wait_for(lambda: master.registrations()[1:], what="the successor's registration")
    assert told[-1].body["orphans_killed"] == 1


def system_python() -> str | None:
    """A python other users may run, of this one's version (psutil must import in it)."""
    path = "/usr/bin/python3"
    if not os.access(path, os.X_OK):
        return None
    version = subprocess.run(
        [path, "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return path if version == str(sys.version_info[:2]) else None


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the worker as nobody: needs root to start it")
def test_without_root_the_worker_falls_back_to_process_groups(
    master: FakeMaster, tmp_path: Path
) -> None:
    interpreter = system_python()
    if interpreter is None:
        pytest.skip("no /usr/bin/python3 of this version for the nobody user to run")
    state = tmp_path / "nobody-state"
    state.mkdir()
    os.chown(state, 65534, 65534)
    paths = [Path(corral.__file__).parent.parent, Path(psutil.__file__).parent.parent]
    env = clean_env(
        CORRAL_WORKER_TOKEN=TOKEN,
        CORRAL_WORKER_STATE_DIR=str(state),
        PYTHONPATH=os.pathsep.join(map(str, paths)),
    )
    argv = [interpreter, "-m", "corral.worker", "--master", master.url, "--worker-id", "w1"]
    log = tmp_path / "nobody.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, user="nobody", stdout=out, stderr=subprocess.STDOUT)
    try:
        assert containment_said(master) == "process groups", log.read_text()
        assert "no cgroups available" in log.read_text()
    finally:
        proc.kill()
        proc.wait()

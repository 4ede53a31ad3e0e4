"""Through a real master: the worker status names the containment, memory_mb reaches the
job's cgroup, an OOM kill is reported as such, and each attempt keeps what it used."""

import sys
from typing import Any

import pytest

from corral.worker.cgroup_v1 import CgroupV1
from corral.worker.containment import detect
from master_api import JobsApi
from master_process import MasterFactory, MasterProcess, process_alive
from waiting import wait_for

V1 = isinstance(detect("corral-probe"), CgroupV1)
needs_v1 = pytest.mark.skipif(
    not V1, reason="needs cgroup v1 hierarchies this user may create groups in (root on a v1 host)"
)
BUSY = "import time\nwhile time.process_time() < 0.3:\n    pass\n"


def running_worker(master: MasterProcess) -> dict[str, Any]:
    """Create a local worker and return its status once it runs."""
    master.create_worker("w1", cpus=2)
    return master.wait_state("w1", "running")


def attempts(master: MasterProcess, job_id: int) -> list[dict[str, Any]]:
    """The job's ended attempts."""
    rows: list[dict[str, Any]] = master.api.get(f"/jobs/{job_id}/attempts").json()["attempts"]
    return rows


@needs_v1
def test_status_says_cgroup_v1_and_an_oom_kill_fails_the_job(master: MasterProcess) -> None:
    assert running_worker(master)["containment"] == "cgroup v1"
    jobs = JobsApi(master)
    hog = jobs.submit([sys.executable, "-c", "x = b'x' * (200 << 20)"], memory_mb=50)
    fits = jobs.submit([sys.executable, "-c", BUSY + "x = b'x' * (20 << 20)"], memory_mb=100)
    failed, succeeded = jobs.wait(hog["id"]), jobs.wait(fits["id"])
    assert (failed["state"], failed["reason"], failed["signal"]) == ("failed", "oom", 9)
    assert failed["reason_detail"] == "out of memory (limit 50 MB)"
    assert failed["memory_mb"] == 50
    assert succeeded["state"] == "succeeded"
    [attempt] = attempts(master, fits["id"])
    assert 20 << 20 < attempt["max_rss_bytes"] < 100 << 20
    assert 0.2 < attempt["cpu_seconds"] < 5
    [oom] = attempts(master, hog["id"])
    assert oom["reason"] == "oom" and oom["max_rss_bytes"] <= 50 << 20


@needs_v1
def test_a_setsid_grandchild_dies_when_its_job_ends(master: MasterProcess) -> None:
    running_worker(master)
    jobs = JobsApi(master)
    escape = "setsid sleep 301 >/dev/null 2>&1 </dev/null & echo $!"
    done = jobs.wait(jobs.submit([escape], shell=True)["id"])
    assert done["state"] == "succeeded"
    grandchild = int(jobs.output(done["id"])[0])
    wait_for(lambda: not process_alive(grandchild), what=f"grandchild {grandchild} to die")


def test_status_says_process_groups_when_cgroups_are_off(start_master: MasterFactory) -> None:
    # The master's environment reaches its local workers.
    master = start_master(worker_cgroups="off")
    assert running_worker(master)["containment"] == "process groups"
    jobs = JobsApi(master)
    done = jobs.wait(jobs.submit([sys.executable, "-c", BUSY], memory_mb=50)["id"])
    assert done["state"] == "succeeded", "a limit the worker cannot hold does not fail the job"
    [attempt] = attempts(master, done["id"])
    assert 0.2 < attempt["cpu_seconds"] < 5 and attempt["max_rss_bytes"] > 1 << 20

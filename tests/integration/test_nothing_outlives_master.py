"""Nothing the master started outlives it: not its workers, not their jobs, whatever the signal."""

import signal
from pathlib import Path

import pytest

from leftovers import Leftovers
from master_api import JobsApi
from master_process import MasterFactory, MasterProcess, process_alive
from waiting import wait_for

# A worker and its jobs must be gone this soon after their master is.
GONE_S = 1.0
TRIES = 20


def running_job(master: MasterProcess, worker_id: str, leftovers: Leftovers) -> list[int]:
    """Start a long job on ``worker_id``; the worker's pid and the job's."""
    jobs = JobsApi(master)
    worker_pid: int = master.wait_state(worker_id, "running")["pid"]
    # Not requeued when lost with its master: the next try's job must find a free CPU.
    job = jobs.submit(["sleep", "600"], max_requeues=0)
    job_pid: int = jobs.wait(job["id"], "running")["pid"]
    leftovers.add(worker_pid, job_pid)
    return [worker_pid, job_pid]


def wait_gone(pids: list[int], what: str) -> None:
    """Wait, at most GONE_S, until none of ``pids`` is alive."""
    wait_for(lambda: not any(process_alive(pid) for pid in pids), timeout=GONE_S, what=what)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_second_signal_kills_the_jobs_too(
    start_master: MasterFactory, leftovers: Leftovers, sig: int
) -> None:
    # A long stop timeout: the graceful stop would wait for the job for a minute.
    master = start_master(stop_timeout_s=60)
    master.create_worker("w1")
    pids = running_job(master, "w1", leftovers)
    master.signal(sig)
    wait_for(
        lambda: "running -> stopping: master shutting down" in master.log(),
        what="graceful stop under way",
    )
    master.signal(sig)
    assert master.wait_exit(timeout=10) == 128 + sig
    wait_gone(pids, "worker and job killed")


def test_a_killed_master_takes_workers_and_jobs_along_every_time(
    start_master: MasterFactory, tmp_path: Path, leftovers: Leftovers
) -> None:
    for attempt in range(TRIES):
        master = start_master(tmp_path / "data")
        if attempt == 0:
            master.create_worker("w1")
        pids = running_job(master, "w1", leftovers)
        master.signal(signal.SIGKILL)
        master.wait_exit()
        wait_gone(pids, f"worker and job gone after try {attempt + 1}")

"""Attempts lost to the infrastructure are requeued without spending the job's attempts."""

import signal
from pathlib import Path

from master_api import JobsApi
from master_process import MasterFactory

# Sleeps through its first three attempts, then succeeds.
THIRD_TIME_LUCKY = (
    '[ "$CORRAL_JOB_ATTEMPT" -le 3 ] && exec sleep 60; echo "done $CORRAL_JOB_ATTEMPT"'
)


def test_graceful_master_restarts_do_not_spend_attempts(
    start_master: MasterFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    master = start_master(data, stop_timeout_s=3)
    master.create_worker("w1", cpus=1)
    job_id = JobsApi(master).submit([THIRD_TIME_LUCKY], shell=True, max_attempts=1)["id"]
    for attempt in (1, 2, 3):
        JobsApi(master).wait(job_id, "running", attempt=attempt)
        master.signal(signal.SIGINT)
        assert master.wait_exit() == 0
        master = start_master(data, stop_timeout_s=3)
    jobs = JobsApi(master)
    done = jobs.wait(job_id, timeout=30)
    assert (done["state"], done["attempt"], done["requeues"]) == ("succeeded", 4, 3)
    assert jobs.output(job_id)[-1] == "done 4"
    attempts = master.api.get(f"/jobs/{job_id}/attempts").json()["attempts"]
    # Drained, as a rule; lost with the master if the drain outlasted the stop timeout.
    assert [(a["attempt"], a["requeued"]) for a in attempts] == [
        (1, True),
        (2, True),
        (3, True),
        (4, False),
    ]
    assert {a["reason"] for a in attempts[:3]} <= {"drained", "startup_orphan"}
    assert attempts[-1]["state"] == "succeeded"


def test_a_job_that_kills_its_worker_every_time_still_ends(start_master: MasterFactory) -> None:
    master = start_master()
    master.create_worker("w1", restart_delay_ms=0, max_restart_attempts=10)
    jobs = JobsApi(master)
    job_id = jobs.submit(["sh", "-c", "kill -9 $PPID; sleep 60"], max_requeues=2)["id"]
    done = jobs.wait(job_id, timeout=60)
    assert (done["state"], done["reason"], done["requeues"]) == ("failed", "worker_crashed", 2)
    assert done["reason_detail"] == "requeued 2 times, max_requeues 2"
    attempts = master.api.get(f"/jobs/{job_id}/attempts").json()["attempts"]
    assert [(a["reason"], a["requeued"]) for a in attempts] == [
        ("worker_crashed", True),
        ("worker_crashed", True),
        ("worker_crashed", False),
    ]

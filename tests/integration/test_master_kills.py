"""SIGKILL of the master: finished attempts are never run again nor failed; no job is lost."""

import signal
from collections import Counter
from functools import partial
from pathlib import Path

from master_api import JobsApi
from master_process import MasterFactory, MasterProcess
from waiting import wait_for

JOBS = 300


def finished(master: MasterProcess) -> int:
    """How many jobs have ended."""
    jobs = master.api.get("/jobs", params={"limit": 1000}).json()["jobs"]
    return sum(j["state"] in ("succeeded", "failed", "cancelled") for j in jobs)


def at_least(master: MasterProcess, count: int) -> bool:
    """Whether ``count`` jobs have ended."""
    return finished(master) >= count


def test_three_master_kills_rerun_nothing_that_finished(
    start_master: MasterFactory, tmp_path: Path
) -> None:
    data, runs = tmp_path / "data", tmp_path / "runs.txt"
    # Output of a size known by the id; the last thing each run does is to say it is
    # done: a run that said so ran whole.
    script = (
        "seq 1 $(( CORRAL_JOB_ID % 20 * 500 )); sleep 0.0$(( CORRAL_JOB_ID % 5 ));"
        f' echo "$CORRAL_JOB_ID" >> {runs}'
    )
    master = start_master(data)
    master.create_worker("w1", cpus=2)
    body = {"jobs": [{"command": [script], "shell": True} for _ in range(JOBS)]}
    assert master.api.post("/jobs/batch", json=body).status_code == 201
    for kill in (1, 2, 3):
        done_by = partial(at_least, master, kill * JOBS // 5)
        wait_for(done_by, timeout=90, what=f"{kill * JOBS // 5} jobs done")
        master.signal(signal.SIGKILL)
        master.wait_exit()
        master = start_master(data)
    wait_for(lambda: finished(master) == JOBS, timeout=120, what="every job done")
    jobs = master.api.get("/jobs", params={"limit": 1000}).json()["jobs"]
    assert len(jobs) == JOBS
    unlucky = [j["id"] for j in jobs if j["state"] != "succeeded"]
    why = [master.api.get(f"/jobs/{job_id}/attempts").json() for job_id in unlucky]
    assert Counter(j["state"] for j in jobs) == {"succeeded": JOBS}, why
    done = Counter(runs.read_text().split())
    assert len(done) == JOBS
    # A run can print its last line and die with its worker before it exits: that
    # attempt never finished, and runs again. One that finished never does.
    for job_id in (int(i) for i, n in done.items() if n > 1):
        first = master.api.get(f"/jobs/{job_id}/attempts").json()["attempts"][0]
        assert first["reason"] == "startup_orphan" and first["requeued"], first
    for job in jobs:
        want = "".join(f"{i}\n" for i in range(1, job["id"] % 20 * 500 + 1))
        got = (data / "jobs" / str(job["id"]) / "stdout.log").read_text() if want else ""
        # A rerun attempt's output follows its attempt line; the last one is whole.
        assert got == want or got.endswith(f"]\n{want}"), (job["id"], len(got), len(want))


def test_an_attempt_that_ended_while_the_master_was_frozen_is_not_run_again(
    start_master: MasterFactory, tmp_path: Path
) -> None:
    data, runs = tmp_path / "data", tmp_path / "runs.txt"
    # A lease long enough for the worker not to fence its job while the master is frozen,
    # and less output than the worker holds before it stops reading the job's pipes.
    master = start_master(data, lease_s=20)
    master.create_worker("w1")
    script = f"seq 1 100000; sleep 0.5; echo done >> {runs}"
    job_id = JobsApi(master).submit([script], shell=True)["id"]
    JobsApi(master).wait(job_id, "running")
    # The job ends while nobody hears its worker: only the worker's ledger knows.
    master.signal(signal.SIGSTOP)
    ledger = data / "run" / "w1" / "outcomes.ledger"
    wait_for(lambda: ledger.exists() and f'"job_id":{job_id},' in ledger.read_text(), timeout=30)
    master.signal(signal.SIGKILL)
    master.wait_exit()
    master = start_master(data, lease_s=20)
    job = JobsApi(master).wait(job_id, timeout=30)
    assert (job["state"], job["attempt"], job["requeues"]) == ("succeeded", 1, 0), job
    assert runs.read_text() == "done\n"
    out = (data / "jobs" / str(job_id) / "stdout.log").read_text()
    assert out == "".join(f"{i}\n" for i in range(1, 100001)), "output taken from the spool"

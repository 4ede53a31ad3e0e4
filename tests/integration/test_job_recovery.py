"""No job is lost when a worker or the master dies, and none runs twice at once."""

import contextlib
import os
import random
import signal
from pathlib import Path

import httpx

from corral.protocol import REGISTER_PATH
from master_api import JobsApi, as_worker
from master_process import MasterFactory, MasterProcess, process_alive
from waiting import wait_for

# Exit code of a job that found another copy of itself running.
DOUBLE = 99


def guarded(folder: Path, body: str) -> str:
    """A shell job that runs ``body`` under a per-job lock, and logs its attempt when done."""
    lock = f"{folder}/$CORRAL_JOB_ID.lock"
    done = f'echo "$CORRAL_JOB_ID $CORRAL_JOB_ATTEMPT" >> {folder}/done'
    return f"flock -n -E {DOUBLE} {lock} sh -c '{body}' && {done}"


def test_sigkill_of_a_worker_mid_job_runs_the_job_again(master: MasterProcess) -> None:
    master.create_worker("w1", restart_delay_ms=0)
    pid = master.wait_state("w1", "running")["pid"]
    jobs = JobsApi(master)
    job = jobs.submit(
        ['[ "$CORRAL_JOB_ATTEMPT" = 1 ] && sleep 60; exit 0'], shell=True, max_attempts=2
    )
    first = jobs.wait(job["id"], "running")
    os.kill(pid, signal.SIGKILL)
    done = jobs.wait(job["id"], timeout=30)
    assert done["state"] == "succeeded" and done["attempt"] == 2
    assert not process_alive(first["pid"]), "the first attempt's process outlived its worker"
    assert any("worker_crashed" in e for e in master.events("w1")), master.events("w1")


def test_a_job_whose_requeues_are_spent_fails_with_the_reason(master: MasterProcess) -> None:
    master.create_worker("w1", restart_delay_ms=0)
    pid = master.wait_state("w1", "running")["pid"]
    jobs = JobsApi(master)
    job = jobs.submit(["/bin/sleep", "60"], max_requeues=0)
    jobs.wait(job["id"], "running")
    os.kill(pid, signal.SIGKILL)
    done = jobs.wait(job["id"], timeout=30)
    assert done["state"] == "failed" and done["reason"] == "worker_crashed"


def test_graceful_stop_drains_then_hands_back_what_is_left(master: MasterProcess) -> None:
    master.create_worker("w1", cpus=2)
    master.wait_state("w1", "running")
    jobs = JobsApi(master)
    short = jobs.submit(["/bin/sleep", "0.5"])
    long = jobs.submit(
        ['[ "$CORRAL_JOB_ATTEMPT" = 1 ] && sleep 60; exit 0'], shell=True, max_attempts=2
    )
    jobs.wait(short["id"], "running")
    jobs.wait(long["id"], "running")
    r = master.api.post("/workers/w1/stop", json={"timeout_s": 10})
    assert r.status_code == 200 and r.json()["state"] == "stopped"
    assert jobs.get(short["id"])["state"] == "succeeded", "a short job finishes while draining"
    handed_back = jobs.get(long["id"])
    assert handed_back["state"] == "pending" and handed_back["reason"] == "drained"
    master.api.post("/workers/w1/start")
    done = jobs.wait(long["id"], timeout=30)
    assert done["state"] == "succeeded" and done["attempt"] == 2


def test_master_sigkill_mid_run_loses_nothing_and_runs_nothing_twice_at_once(
    start_master: MasterFactory, tmp_path: Path
) -> None:
    first = start_master()
    first.create_worker("w1", cpus=2, restart_delay_ms=0)
    first.wait_state("w1", "running")
    jobs = JobsApi(first)
    ids = [
        jobs.submit([guarded(tmp_path, "sleep 0.7")], shell=True, max_attempts=3)["id"]
        for _ in range(6)
    ]
    wait_for(lambda: sum(jobs.get(i)["state"] == "running" for i in ids) == 2, what="2 running")
    first.signal(signal.SIGKILL)
    first.wait_exit()
    second = start_master(first.data_dir)
    again = JobsApi(second)
    finished = [again.wait(i, timeout=60) for i in ids]
    assert [j["state"] for j in finished] == ["succeeded"] * len(ids), finished
    assert all(j["exit_code"] == 0 for j in finished), "a job found a copy of itself running"
    done = (tmp_path / "done").read_text().split("\n")
    for job in finished:
        assert f"{job['id']} {job['attempt']}" in done


def test_chaos_random_worker_kills_lose_no_job(master: MasterProcess, tmp_path: Path) -> None:
    for name in ("w1", "w2"):
        master.create_worker(name, restart_delay_ms=0, max_restart_attempts=10_000)
        master.wait_state(name, "running")
    jobs = JobsApi(master)
    body = [{"command": [guarded(tmp_path, "true")], "shell": True, "max_attempts": 20}]
    ids: list[int] = []
    for _ in range(10):
        r = master.api.post("/jobs/batch", json={"jobs": body * 100})
        assert r.status_code == 201, r.text
        ids += [j["id"] for j in r.json()["jobs"]]
    rng = random.Random(7)
    kills = 0

    def all_done_or_kill_one() -> bool:
        """True once no job is unfinished; until then, SIGKILL a random running worker."""
        nonlocal kills
        page = master.api.get("/jobs", params={"state": ["pending", "assigned", "running"]})
        if not page.json()["jobs"]:
            return True
        victim = rng.choice(["w1", "w2"])
        status = master.status(victim)
        if status["state"] == "running" and process_alive(status["pid"]):
            with contextlib.suppress(ProcessLookupError):  # it may exit meanwhile
                os.kill(status["pid"], signal.SIGKILL)
                kills += 1
        master.wait_state(victim, "running", timeout=30)
        return False

    wait_for(all_done_or_kill_one, timeout=120, interval=0, what="every job to finish")
    finished = [jobs.get(i) for i in ids]
    states = {j["state"] for j in finished}
    assert states <= {"succeeded", "failed"}, states
    failed = [j for j in finished if j["state"] == "failed"]
    assert all(j["reason"] for j in failed), failed[:3]
    assert not [j for j in finished if j["exit_code"] == DOUBLE], "a job ran twice at once"
    done = set((tmp_path / "done").read_text().split("\n"))
    succeeded = [j for j in finished if j["state"] == "succeeded"]
    missing = [j["id"] for j in succeeded if f"{j['id']} {j['attempt']}" not in done]
    assert not missing, f"succeeded by an attempt that never ran: {missing[:5]}"
    assert kills >= 3, f"only {kills} kills happened: the test proved little"
    print(f"{kills} kills, {len(succeeded)} succeeded, {len(failed)} failed")


def test_jobs_on_postgresql_survive_a_master_restart(
    start_master: MasterFactory, pg_url: str, tmp_path: Path
) -> None:
    first = start_master(database_url=pg_url)
    first.create_worker("w1", cpus=2, restart_delay_ms=0)
    first.wait_state("w1", "running")
    jobs = JobsApi(first)
    done = jobs.wait(jobs.submit(["/bin/echo", "stored"])["id"])
    assert done["state"] == "succeeded" and jobs.output(done["id"]) == ["stored"]
    long = jobs.submit([guarded(tmp_path, "sleep 0.5")], shell=True, max_attempts=2)
    jobs.wait(long["id"], "running")
    first.signal(signal.SIGKILL)
    first.wait_exit()
    second = start_master(first.data_dir, database_url=pg_url)
    again = JobsApi(second)
    assert again.get(done["id"])["state"] == "succeeded"
    finished = again.wait(long["id"], timeout=60)
    assert finished["state"] == "succeeded" and finished["attempt"] == 2
    later = again.wait(again.submit(["/bin/true"])["id"])
    assert later["id"] > long["id"], "the new master numbers on from the stored jobs"


def test_a_job_that_wipes_its_environment_still_ends_with_its_worker(
    master: MasterProcess,
) -> None:
    master.create_worker("w1", auto_restart=False)
    pid = master.wait_state("w1", "running")["pid"]
    jobs = JobsApi(master)
    # Without CORRAL_JOB_ID in its environment, only its start time names the process.
    job = jobs.submit(["/usr/bin/env", "-i", "/bin/sleep", "60"], max_requeues=0)
    orphan = jobs.wait(job["id"], "running")["pid"]
    os.kill(pid, signal.SIGKILL)
    done = jobs.wait(job["id"])
    assert done["state"] == "failed" and done["reason"] == "worker_crashed"
    wait_for(lambda: not process_alive(orphan), what="the orphan ended by the master")


def test_a_worker_reports_the_job_groups_it_cleaned_up(master: MasterProcess) -> None:
    master.create_worker("w1")
    st = master.wait_state("w1", "running")
    body = {
        "worker_id": "w1",
        "instance_id": st["instance_id"],
        "pid": st["pid"],
        "hostname": "h",
        "cpu_ids": st["cpu_ids"],
        "version": "x",
        "orphans_killed": 2,
    }
    with httpx.Client(base_url=master.url) as c:
        r = c.post(REGISTER_PATH, json=body, headers=as_worker(master.data_dir, "w1"))
    assert r.status_code == 200, r.text
    assert any("killed 2 job process groups" in e for e in master.events("w1"))

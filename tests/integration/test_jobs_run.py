"""Jobs through a real master and a real worker: placement, pinning, timeouts, cancels."""

import os
from datetime import datetime

import httpx
import pytest

from master_api import JobsApi
from master_process import MasterProcess, process_alive
from waiting import wait_for

TWO_CPUS = len(os.sched_getaffinity(0)) >= 2


@pytest.fixture
def jobs(master: MasterProcess) -> JobsApi:
    """A master with one local 2-CPU worker, running."""
    master.create_worker("w1", cpus=2)
    master.wait_state("w1", "running")
    return JobsApi(master)


def _cpus_allowed(lines: list[str]) -> list[int]:
    """CPU ids from a Cpus_allowed_list line such as '0-1' or '0,2'."""
    (line,) = [ln for ln in lines if ln.startswith("Cpus_allowed_list")]
    ids: list[int] = []
    for part in line.split(":", 1)[1].strip().split(","):
        low, _, high = part.partition("-")
        ids += range(int(low), int(high or low) + 1)
    return ids


def test_job_runs_pinned_to_the_cpus_it_was_given(jobs: JobsApi) -> None:
    show = ["/bin/sh", "-c", "grep Cpus_allowed_list /proc/self/status; sleep 0.3"]
    first = jobs.submit(show)
    second = jobs.submit(show)
    a = jobs.wait(first["id"])
    b = jobs.wait(second["id"])
    assert a["state"] == b["state"] == "succeeded" and a["exit_code"] == 0
    assert len(a["cpu_ids"]) == 1 and _cpus_allowed(jobs.output(a["id"])) == a["cpu_ids"]
    assert _cpus_allowed(jobs.output(b["id"])) == b["cpu_ids"]
    if TWO_CPUS:
        assert a["cpu_ids"] != b["cpu_ids"], "two jobs running at once share no CPU"


@pytest.mark.skipif(not TWO_CPUS, reason="needs a machine with two CPUs to fill a 2-CPU worker")
def test_two_2_cpu_jobs_on_a_2_cpu_worker_run_one_after_the_other(jobs: JobsApi) -> None:
    first = jobs.submit(["/bin/sleep", "0.4"], cpus=2)
    second = jobs.submit(["/bin/sleep", "0.4"], cpus=2)
    a, b = jobs.wait(first["id"]), jobs.wait(second["id"])
    assert a["state"] == b["state"] == "succeeded"
    assert sorted(a["cpu_ids"]) == sorted(b["cpu_ids"]) == [0, 1]
    spans = sorted((_at(j["started_at"]), _at(j["finished_at"])) for j in (a, b))
    assert spans[1][0] >= spans[0][1], "the second started before the first finished"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_output_exit_code_and_environment(jobs: JobsApi) -> None:
    script = (
        'echo out; echo err >&2; echo "token=${CORRAL_WORKER_TOKEN:-none} job=$CORRAL_JOB_ID"'
        "; exit 3"
    )
    job = jobs.submit([script], shell=True, env={"GREETING": "hi"})
    done = jobs.wait(job["id"])
    assert done["state"] == "failed" and done["exit_code"] == 3
    assert (done["reason"], done["reason_detail"]) == ("exit_code", "exit code 3")
    out = jobs.output(job["id"])
    assert out[0] == "out" and out[1] == f"token=none job={job['id']}"
    assert jobs.output(job["id"], "stderr") == ["err"]


def test_missing_program_is_a_clear_failure(jobs: JobsApi) -> None:
    done = jobs.wait(jobs.submit(["/no/such/program"])["id"])
    assert done["state"] == "failed"
    assert done["reason"] == "spawn_failed", done["reason"]
    assert "/no/such/program" in done["reason_detail"]


def test_timeout_kills_the_whole_process_group(jobs: JobsApi, tmp_path: os.PathLike[str]) -> None:
    pids = f"{tmp_path}/pids"
    # The child ignores SIGTERM: only the SIGKILL after the grace period ends it.
    script = f"(trap '' TERM; sleep 60) & echo $! > {pids}; echo $$ >> {pids}; wait"
    job = jobs.submit([script], shell=True, timeout_s=0.5)
    done = jobs.wait(job["id"], timeout=30)
    assert done["state"] == "timed_out" and done["reason"] == "timeout"
    with open(pids) as f:
        group = [int(p) for p in f.read().split()]
    wait_for(lambda: not any(process_alive(pid) for pid in group), what=f"{group} gone")


def test_cancel_of_pending_and_of_running_jobs(jobs: JobsApi) -> None:
    running = jobs.submit(["/bin/sleep", "60"], cpus=2)
    jobs.wait(running["id"], "running")
    pending = jobs.submit(["/bin/true"], cpus=2)
    r = jobs.api.post(f"/jobs/{pending['id']}/cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    pid = jobs.get(running["id"])["pid"]
    r = jobs.api.post(f"/jobs/{running['id']}/cancel")
    assert r.status_code == 200 and r.json()["cancel_requested"] is True
    done = jobs.wait(running["id"])
    assert done["state"] == "cancelled" and done["reason"] == "cancelled"
    wait_for(lambda: not process_alive(pid), what="cancelled job's process gone")
    assert jobs.api.post(f"/jobs/{running['id']}/cancel").status_code == 409


def test_status_reports_what_jobs_hold(jobs: JobsApi, master: MasterProcess) -> None:
    job = jobs.submit(["/bin/sleep", "60"], account="acct-1")
    jobs.wait(job["id"], "running")
    st = master.wait_state("w1", "running", active_jobs=1)
    assert st["cpus_allocated"] == 1 and st["accounts_allocated"] == 1
    jobs.api.post(f"/jobs/{job['id']}/cancel")
    jobs.wait(job["id"])


def test_follow_streams_output_then_ends_with_the_job(jobs: JobsApi, master: MasterProcess) -> None:
    script = "printf 'start\\n'; sleep 0.3; printf '10%%\\r50%%\\r100%%\\n'; printf 'bye\\n'"
    job = jobs.submit([script], shell=True)
    url = f"{master.url}/api/v1/jobs/{job['id']}/logs"
    data: list[str] = []
    events: list[str] = []
    params = {"follow": "true", "tail": "10"}
    with (
        httpx.Client(timeout=30, headers=master.auth()) as client,
        client.stream("GET", url, params=params) as resp,
    ):
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("data: ") and not events:
                data.append(line[6:])
            elif line.startswith("event: "):
                events.append(line[7:])
    assert data == ["start", "10%", "50%", "100%", "bye"]
    assert events == ["end"], "the stream ends once the job has finished"


def test_secret_env_reaches_the_job_and_is_never_shown(
    jobs: JobsApi, master: MasterProcess
) -> None:
    secret = "s3cr3t-value-93f1"
    job = jobs.submit(['echo "token=$API_TOKEN"'], shell=True, secret_env={"API_TOKEN": secret})
    assert job["secret_env_keys"] == ["API_TOKEN"] and secret not in str(job)
    done = jobs.wait(job["id"])
    assert jobs.output(done["id"]) == [f"token={secret}"]
    listed = master.api.get("/jobs").text + master.api.get(f"/jobs/{job['id']}").text
    assert secret not in listed and "API_TOKEN" in listed
    assert secret not in master.log(), "a secret value reached the master's log"

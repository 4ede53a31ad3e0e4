"""``corral submit`` and ``corral jobs`` against a real master and a real worker."""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from master_process import MasterProcess
from waiting import wait_for

from .conftest import RunCli

# The package's tests share one master (conftest.py): run them in one test process.
pytestmark = pytest.mark.xdist_group("cli-master")


@contextmanager
def corral_process(master: MasterProcess, *args: str) -> Iterator[subprocess.Popen[str]]:
    """The real ``corral`` command in its own process, its output captured; killed at the end."""
    argv = [sys.executable, "-m", "corral", "--url", master.url, *args]
    # SIGABRT prints every thread's stack; the token comes from the data folder.
    env = dict(os.environ, PYTHONFAULTHANDLER="1", CORRAL_DATA_DIR=str(master.data_dir))
    pipe = subprocess.PIPE
    with subprocess.Popen(argv, stdout=pipe, stderr=pipe, text=True, env=env) as proc:
        try:
            yield proc
        finally:
            proc.kill()


def output_or_stacks(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """Stdout and stderr once the process ends; if it hangs, fail showing where it is."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        _, err = proc.communicate(timeout=10)
        raise AssertionError(f"still running after {timeout} s, its stacks:\n{err}") from None


def finished(master: MasterProcess, job_id: int) -> str:
    """Wait until the job is finished and return its state."""
    r = master.api.get(f"/jobs/{job_id}/wait", params={"timeout_s": 30}, timeout=40)
    state: str = r.json()["state"]
    assert state not in ("pending", "assigned", "running"), r.text
    return state


def submitted_id(corral: RunCli, *args: str) -> int:
    """Submit through the CLI and return the id it printed."""
    result = corral("submit", *args)
    assert result.exit_code == 0, result.output
    return int(result.stdout)


def test_submit_wait_streams_both_outputs_and_exits_with_the_jobs_code(
    master: MasterProcess,
) -> None:
    script = "echo to-out; echo to-err >&2; echo more-out; exit 3"
    with corral_process(master, "submit", "--wait", "--", "/bin/sh", "-c", script) as proc:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert out == "to-out\nmore-out\n"
    assert err.splitlines()[1] == "to-err"
    assert "failed (exit code 3" in err


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["/bin/sh", "-c", "kill -9 $$"], 137),
        (["--timeout", "0.2", "sleep", "30"], 124),
        (["/no/such/program"], 127),
        (["true"], 0),
    ],
)
def test_submit_wait_exit_codes(master: MasterProcess, argv: list[str], code: int) -> None:
    with corral_process(master, "submit", "--wait", *argv) as proc:
        proc.communicate(timeout=60)
    assert proc.returncode == code


def test_ctrl_c_while_waiting_cancels_the_job(master: MasterProcess) -> None:
    def running() -> int | None:
        jobs = master.read("/jobs", params={"account": "ctrl-c"})["jobs"]
        return jobs[0]["id"] if jobs and jobs[0]["state"] == "running" else None

    submit = ("submit", "--wait", "--account", "ctrl-c", "sleep", "30")
    with corral_process(master, *submit) as proc:
        job_id = wait_for(running, timeout=30, what="the job running")
        proc.send_signal(signal.SIGINT)
        _, err = output_or_stacks(proc, timeout=30)
    assert proc.returncode == 130
    assert f"cancelling job {job_id}" in err
    assert finished(master, job_id) == "cancelled"


def test_submit_options_reach_the_job(corral: RunCli, master: MasterProcess) -> None:
    result = corral(
        "submit",
        "--json",
        "--cpus=2",
        "--priority=5",
        "--account=acct",
        "--env=A=1",
        "--cwd=/tmp",
        "--max-attempts=2",
        "--idempotency-key=opts",
        "--",
        "pwd",
    )
    job = json.loads(result.stdout)
    assert job["cpus"] == 2 and job["priority"] == 5 and job["account"] == "acct"
    assert job["env"] == {"A": "1"} and job["cwd"] == "/tmp" and job["max_attempts"] == 2
    assert corral("jobs", "logs", str(job["id"]), "--follow").stdout == "/tmp\n"


def test_submit_shell_joins_words_for_sh(corral: RunCli) -> None:
    job_id = submitted_id(corral, "--shell", "echo", "a", "|", "tr", "a", "b")
    assert corral("jobs", "logs", "--follow", str(job_id)).stdout == "b\n"


def test_jobs_lists_shows_and_filters(corral: RunCli, master: MasterProcess) -> None:
    job_id = submitted_id(corral, "--account", "listing", "echo", "hello world")
    assert finished(master, job_id) == "succeeded"
    rows = [r.split("\t") for r in corral("jobs", "--account", "listing").stdout.splitlines()]
    assert rows == [[str(job_id), "succeeded", "1/1", "w1", "1", rows[0][5], "echo 'hello world'"]]
    assert corral("jobs", "--account", "listing", "--state", "failed").stdout == ""
    listed = json.loads(corral("jobs", "--json", "--account", "listing").stdout)
    assert [j["id"] for j in listed] == [job_id]
    fields, attempts = corral("jobs", "show", str(job_id)).stdout.split("\n\n")
    shown = dict(r.split("\t", 1) for r in fields.splitlines())
    assert shown["state"] == "succeeded" and shown["exit_code"] == "0"
    (attempt,) = [r.split("\t") for r in attempts.splitlines()]
    assert attempt[:5] == ["1", "w1", "succeeded", "-", "0"]
    as_json = json.loads(corral("jobs", "show", "--json", str(job_id)).stdout)
    assert as_json["id"] == job_id and as_json["attempts"][0]["state"] == "succeeded"


def test_logs_tail_and_stream(corral: RunCli, master: MasterProcess) -> None:
    job_id = submitted_id(corral, "/bin/sh", "-c", "seq 5; echo oops >&2")
    assert finished(master, job_id) == "succeeded"
    assert corral("jobs", "logs", str(job_id), "--tail", "2").stdout == "4\n5\n"
    assert corral("jobs", "logs", str(job_id), "--stream", "stderr").stdout == "oops\n"


def test_cancel_and_retry_report_each_job(corral: RunCli, master: MasterProcess) -> None:
    job_id = submitted_id(corral, "sleep", "30")
    assert corral("jobs", "cancel", str(job_id)).exit_code == 0
    assert finished(master, job_id) == "cancelled"
    again = corral("jobs", "cancel", str(job_id), "999999999")
    assert again.exit_code == 1
    assert f"job {job_id}: 409" in again.stderr and "job 999999999: 404" in again.stderr
    retried = corral("jobs", "retry", str(job_id))
    assert retried.exit_code == 0 and retried.stdout.startswith(f"{job_id}\t")
    corral("jobs", "cancel", str(job_id))
    assert finished(master, job_id) == "cancelled"


def test_an_unreachable_master_is_one_line_and_exit_1() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "corral", "--url", "http://127.0.0.1:9", "jobs"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: no master running at http://127.0.0.1:9 (looked in ")
    assert proc.stderr.endswith("); start one with `corral up`\n")
    assert proc.stderr.count("\n") == 1


def test_submit_takes_a_secret_from_the_environment_and_never_prints_it(
    corral: RunCli, master: MasterProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOY_KEY", "k-77d1-secret")
    script = ["sh", "-c", "echo ${#DEPLOY_KEY}"]
    job_id = submitted_id(corral, "--secret-env", "DEPLOY_KEY", "--", *script)
    assert finished(master, job_id) == "succeeded"
    assert corral("jobs", "logs", str(job_id)).stdout.strip() == "13", "the job sees it"
    shown = corral("jobs", "show", "--json", str(job_id)).stdout
    assert "k-77d1-secret" not in shown and "DEPLOY_KEY" in shown

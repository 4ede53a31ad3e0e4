"""Day-two commands against a real master: status, why a job waits, bulk submit, messages."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from corral.cli import main
from corral.client.api import BATCH_MAX
from master_process import MasterProcess, refusing_port
from waiting import wait_for

from .conftest import RunCli
from .test_cli_jobs import corral_process, finished, output_or_stacks, submitted_id

# The package's tests share one master (conftest.py): run them in one test process.
pytestmark = pytest.mark.xdist_group("cli-master")


def fields(text: str) -> dict[str, str]:
    """``key<TAB>value`` lines (up to a blank line) as a dict."""
    return dict(line.split("\t", 1) for line in text.split("\n\n")[0].splitlines())


def test_status_says_where_since_when_and_the_fleet(corral: RunCli, master: MasterProcess) -> None:
    result = corral("status")
    assert result.exit_code == 0, result.output
    shown = fields(result.stdout)
    assert shown["master"] == master.url
    assert shown["data folder"] == str(master.data_dir.resolve())
    assert shown["workers"] == "1 worker (1 running)"
    assert shown["cpus"].endswith("/2 CPUs allocated")
    assert shown["up"].split()[0][-1] in "smhd"
    assert set(shown) >= {"version", "pid", "jobs", "finished since start", "oldest pending"}
    body = json.loads(corral("status", "--json").stdout)
    assert set(body["master"]["jobs_by_state"]) == {"pending", "assigned", "running"}


def test_status_without_a_master_exits_3_and_says_where_it_looked(tmp_path: Path) -> None:
    with refusing_port() as port:
        url = f"http://127.0.0.1:{port}"
        runner = CliRunner(env={"CORRAL_DATA_DIR": str(tmp_path), "CORRAL_TOKEN": "t"})
        result = runner.invoke(main, ["--url", url, "status"])
        jobs = runner.invoke(main, ["--url", url, "jobs"])
    said = f"no master running at {url} (looked in {tmp_path}); start one with `corral up`\n"
    assert (result.exit_code, result.stderr) == (3, said)
    assert (jobs.exit_code, jobs.stderr) == (1, "Error: " + said)


def test_a_follow_without_a_master_says_so_and_keeps_trying(tmp_path: Path) -> None:
    with refusing_port() as port:
        url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "corral", "--url", url, "jobs", "logs", "--follow", "1"]
        env = {**os.environ, "CORRAL_DATA_DIR": str(tmp_path), "CORRAL_TOKEN": "t"}
        pipe = subprocess.PIPE
        with subprocess.Popen(argv, stderr=pipe, stdout=pipe, text=True, env=env) as proc:
            assert proc.stderr is not None
            try:
                said = proc.stderr.readline()
                assert proc.poll() is None, "it keeps trying"
            finally:
                proc.send_signal(signal.SIGINT)
                proc.communicate(timeout=30)
    assert said == f"corral: lost the master at {url}; retrying\n"
    assert proc.returncode == 130


def test_jobs_show_says_why_a_pending_job_waits(corral: RunCli, master: MasterProcess) -> None:
    master.create_worker("ssd1", cpus=1, labels={"disk": "ssd"}, auto_start=False)
    hog = submitted_id(corral, "--cpus", "2", "--account", "hog", "sleep", "60")
    try:
        wait_for(lambda: master.read(f"/jobs/{hog}")["state"] == "running", timeout=30)
        queued = submitted_id(corral, "true")
        shown = fields(corral("jobs", "show", str(queued)).stdout)
        assert shown["waiting_for"] == "no worker has 1 CPU free now (at most 0 CPUs free)"
        on_ssd = submitted_id(corral, "--label", "disk=ssd", "true")
        shown = fields(corral("jobs", "show", str(on_ssd)).stdout)
        assert shown["waiting_for"] == "no running worker has the labels disk=ssd"
        running = json.loads(corral("jobs", "show", "--json", str(hog)).stdout)
        assert running["waiting_for"] is None
        assert "reason" not in fields(corral("jobs", "show", str(hog)).stdout)
        too_big = corral("submit", "--cpus", "2", "--label", "disk=ssd", "true")
        assert too_big.exit_code == 1
        assert too_big.stderr == ("Error: 422: the workers labelled disk=ssd have at most 1 CPU\n")
        corral("jobs", "cancel", str(on_ssd), str(queued))
    finally:
        corral("jobs", "cancel", str(hog))
        master.api.delete("/worker-configs/ssd1")
    assert "waiting_for" not in fields(corral("jobs", "show", str(hog)).stdout)


def test_submit_file_sends_each_line_and_prints_the_ids(
    corral: RunCli, master: MasterProcess, tmp_path: Path
) -> None:
    commands = tmp_path / "commands.txt"
    commands.write_text("# the first two\necho one\n\n  echo 'two words'\n")
    result = corral("submit", "--account", "bulk", "--file", str(commands))
    assert result.exit_code == 0, result.output
    ids = [int(line) for line in result.stdout.splitlines()]
    assert len(ids) == 2
    assert [finished(master, i) for i in ids] == ["succeeded", "succeeded"]
    assert corral("jobs", "logs", str(ids[1])).stdout == "two words\n"
    bad = tmp_path / "bad.txt"
    bad.write_text("echo fine\necho 'unclosed\n")
    before = master.read("/jobs", params={"account": "bulk"})["jobs"]
    refused = corral("submit", "--account", "bulk", "--file", str(bad))
    assert refused.exit_code == 2
    assert f"Error: {bad} line 2: No closing quotation" in refused.stderr
    assert master.read("/jobs", params={"account": "bulk"})["jobs"] == before


def test_submit_file_goes_in_batches_of_the_limit(
    corral: RunCli, master: MasterProcess, tmp_path: Path
) -> None:
    # Jobs for a worker that never runs: they stay pending, the machine stays idle.
    master.create_worker("parked", cpus=1, labels={"park": "yes"}, auto_start=False)
    commands = tmp_path / "many.txt"
    commands.write_text("true\n" * (BATCH_MAX + 1))
    try:
        result = corral("submit", "--label", "park=yes", "--file", str(commands))
        assert result.exit_code == 0, result.output
        ids = [int(line) for line in result.stdout.splitlines()]
        assert len(set(ids)) == BATCH_MAX + 1 and ids == sorted(ids)
        shown = fields(corral("jobs", "show", str(ids[-1])).stdout)
        assert shown["waiting_for"] == "no running worker has the labels park=yes"
    finally:
        params = {"state": "pending", "limit": 1000}
        while pending := master.read("/jobs", params=params)["jobs"]:
            for job in pending:
                master.api.post(f"/jobs/{job['id']}/cancel")
        master.api.delete("/worker-configs/parked")


def test_submit_wait_prints_the_id_first(master: MasterProcess) -> None:
    with corral_process(master, "submit", "--wait", "--", "sh", "-c", "echo out") as proc:
        out, err = output_or_stacks(proc, timeout=60)
    first = err.splitlines()[0]
    assert first.startswith("corral: job ") and first.endswith(
        " submitted; waiting (Ctrl-C cancels it)"
    )
    assert (proc.returncode, out) == (0, "out\n")


def test_an_unset_env_variable_is_named(corral: RunCli) -> None:
    result = corral("submit", "--env", "CORRAL_TEST_NOT_SET", "true")
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: Invalid value for '--env': CORRAL_TEST_NOT_SET is not set\n"
    )


def test_a_failed_job_is_said_once(master: MasterProcess) -> None:
    with corral_process(master, "submit", "--wait", "--", "sh", "-c", "exit 3") as proc:
        _, err = output_or_stacks(proc, timeout=60)
    job_id = err.split()[2]
    assert err.splitlines()[-1] == f"corral: job {job_id} failed (exit code 3)"
    events = master.events("w1")
    assert f"job {job_id} attempt 1: exit code 3, job failed" in "\n".join(events)


def test_jobs_watch_redraws_until_ctrl_c(corral: RunCli, master: MasterProcess) -> None:
    job_id = submitted_id(corral, "--account", "watched", "true")
    watch = ("jobs", "--watch", "--interval", "0.2", "--account", "watched")
    with corral_process(master, *watch) as proc:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        proc.send_signal(signal.SIGINT)
        _, err = output_or_stacks(proc, timeout=30)
    assert proc.returncode == 0, err
    assert [line[:2] for line in lines[::2]] == ["# ", "# "], lines
    assert [line.split("\t")[0] for line in lines[1::2]] == [str(job_id)] * 2, lines


def test_workers_by_all_or_label_and_every_id_checked_first(
    corral: RunCli, master: MasterProcess
) -> None:
    master.create_worker("spare", cpus=1, labels={"role": "spare"}, auto_start=False)
    try:
        for argv in (["nope", "spare"], ["spare", "nope"]):
            result = corral("workers", "start", *argv)
            assert (result.exit_code, result.stderr) == (
                1,
                "Error: no worker nope: nothing was done\n",
            )
            assert master.status("spare")["state"] == "stopped"
        started = corral("workers", "start", "--label", "role=spare")
        assert started.stdout == "spare\tstarting\n" or started.stdout == "spare\trunning\n"
        master.wait_state("spare", "running")
        stopped = corral("workers", "stop", "--label", "role=spare", "--timeout", "5")
        assert stopped.stdout == "spare\tstopped\n"
        assert corral("workers", "restart", "--all", "w1").exit_code == 2
        nobody = corral("workers", "start", "--label", "role=none")
        assert (nobody.exit_code, nobody.stderr) == (
            1,
            "Error: no worker has the labels role=none\n",
        )
        rows = [line.split("\t") for line in corral("workers").stdout.splitlines()]
        spare = next(r for r in rows if r[0] == "spare")
        assert spare[5:7] == ["-", "-"], "a stopped worker has no CPU % or memory"
    finally:
        master.api.delete("/worker-configs/spare")


def test_a_bad_worker_id_is_refused_in_words(corral: RunCli) -> None:
    result = corral("workers", "status", "Not_An_Id!")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: 422: path.worker_id: a worker id is 1-63 lowercase letters, digits, '-' or '_', "
        "starting with a letter or digit\n"
    )


def test_worker_logs_merge_both_streams_with_one_time_a_line(corral: RunCli) -> None:
    lines = corral("workers", "logs", "w1", "--tail", "20").stdout.splitlines()
    assert lines, "the worker logs at its start"
    stamps = [line.split(" ", 1)[0] for line in lines]
    assert stamps == sorted(stamps)
    for line in lines:
        second = line.split(" ")[1]
        assert not second[:4].isdigit(), f"two times on one line: {line}"


def test_worker_events_can_be_followed(master: MasterProcess) -> None:
    master.create_worker("evt", cpus=1)
    master.wait_state("evt", "running")
    try:
        follow = ("workers", "logs", "evt", "--stream", "events", "--follow", "--tail", "1")
        with corral_process(master, *follow) as proc:
            assert proc.stdout is not None
            # The tail is read once the stream is followed: what comes next is live.
            assert "-> running" in proc.stdout.readline()
            master.api.post("/workers/evt/stop", json={"graceful": False})
            live = proc.stdout.readline()
            proc.send_signal(signal.SIGINT)
            output_or_stacks(proc, timeout=30)
        assert "transition: running -> stopping: stop requested" in live
    finally:
        master.api.delete("/worker-configs/evt")


def test_shell_completion_prints_a_script() -> None:
    corral = Path(sys.executable).with_name("corral")
    env = {"_CORRAL_COMPLETE": "bash_source", "PATH": str(corral.parent)}
    run = subprocess.run([str(corral)], env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0
    assert "_corral_completion()" in run.stdout and "complete -o nosort" in run.stdout


def test_worker_help_reads_like_the_other_commands() -> None:
    # In a process of its own: the worker makes its process non-dumpable.
    argv = [sys.executable, "-m", "corral", "worker", "--help"]
    shown = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
    lines = shown.splitlines()
    assert lines[:2] == ["Usage: corral worker [OPTIONS]", ""]
    assert lines[2].startswith("  Run a corral worker agent")
    assert "Options:" in lines
    assert lines[-1].split() == ["--help", "Show", "this", "message", "and", "exit."]

"""The real worker runs jobs for the fake master: pinning, output, ending them."""

from __future__ import annotations

import os
from pathlib import Path

from corral.protocol import EXCHANGE_PATH, JobEvent
from waiting import wait_for

from .conftest import SpawnWorker
from .fake_master import TOKEN, FakeMaster, assignment
from .jobs import STUBBORN, gate, python, stubborn_pids, wait_finished
from .procs import alive, wait_dead

FAST = ("--kill-grace", "0.2")


def test_jobs_get_exclusive_cpus_and_run_pinned_to_them(
    master: FakeMaster, spawn_worker: SpawnWorker, tmp_path: Path
) -> None:
    spawn_worker(master.url, extra_args=FAST)
    done = tmp_path / "done"
    master.assign(assignment(1, gate(str(done))), assignment(2, gate(str(done))))
    ids = []
    for job_id in (1, 2):

        def printed(job: int = job_id) -> bool:
            return "ids=" in master.output(job)

        wait_for(printed, what=f"job {job_id}'s cpus")
        started = master.started(job_id)
        assert started is not None and len(started["cpu_ids"]) == 1
        [cpu] = started["cpu_ids"]
        assert f"Cpus_allowed_list:\t{cpu}\nids={cpu}\n" == master.output(job_id)
        ids.append(cpu)
    assert ids[0] != ids[1]
    done.touch()
    for job_id in (1, 2):
        assert wait_finished(master, job_id)["exit_code"] == 0


def test_jobs_wait_for_cpus_in_order(master: FakeMaster, spawn_worker: SpawnWorker) -> None:
    spawn_worker(master.url, extra_args=FAST)
    cpus = len(os.sched_getaffinity(0))
    sleeper = python("import time; time.sleep(0.2)")
    master.assign(assignment(1, sleeper, cpus=cpus), assignment(2, sleeper, cpus=cpus))
    first, second = wait_finished(master, 1), wait_finished(master, 2)
    assert first["exit_code"] == second["exit_code"] == 0
    started = master.started(2)
    assert started is not None and started["at"] >= float(str(first["at"]))
    assert started["cpu_ids"] == sorted(os.sched_getaffinity(0))


def test_the_masters_capacity_limits_the_cpus_used(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    master.capacity = 1
    spawn_worker(master.url, extra_args=FAST)
    master.assign(assignment(1, ["true"]), assignment(2, ["true"]), assignment(3, ["true"], cpus=2))
    first = min(os.sched_getaffinity(0))
    for job_id in (1, 2):
        wait_finished(master, job_id)
        started = master.started(job_id)
        assert started is not None and started["cpu_ids"] == [first]
    refused = wait_finished(master, 3)
    assert (refused["reason"], refused["detail"]) == (
        "spawn_failed",
        "needs 2 CPUs, this worker has 1",
    )


def test_output_is_shipped_in_order_and_in_bounded_chunks(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    spawn_worker(master.url, extra_args=FAST)
    code = (
        "import sys\n"
        "for i in range(2000):\n"
        "    print(f'line {i}', flush=True)\n"
        "sys.stderr.write('oops \\u00e9\\n')\n"
        "sys.stdout.write('x' * 200000 + '\\n')\n"
        "sys.stdout.buffer.write(b'bad \\xff byte')\n"
    )
    master.assign(assignment(1, python(code)))
    assert wait_finished(master, 1)["exit_code"] == 0
    lines = "".join(f"line {i}\n" for i in range(2000))
    assert master.output(1) == lines + "x" * 200000 + "\nbad \ufffd byte"
    assert master.output(1, "stderr") == "oops \u00e9\n"
    chunks = [e["data"] for e in master.job_events(1, "output")]
    assert max(len(c) for c in chunks) <= 64 * 1024
    kinds = [e["type"] for e in master.job_events(1)]
    assert kinds[0] == "started" and kinds[-1] == "finished"


def test_job_environment_has_its_variables_and_not_the_token(
    master: FakeMaster, spawn_worker: SpawnWorker, tmp_path: Path
) -> None:
    spawn_worker(master.url, extra_args=FAST)
    master.assign(
        assignment(7, ["env"], attempt=3, env={"GREETING": "hello"}, cwd=str(tmp_path)),
        assignment(8, ["echo $((6 * 7)) $PWD"], shell=True, cwd=str(tmp_path)),
    )
    wait_finished(master, 7)
    env = dict(line.split("=", 1) for line in master.output(7).splitlines() if "=" in line)
    assert env["GREETING"] == "hello"
    assert env["CORRAL_JOB_ID"] == "7" and env["CORRAL_JOB_ATTEMPT"] == "3"
    started = master.started(7)
    assert started is not None
    assert env["CORRAL_CPU_IDS"] == ",".join(map(str, started["cpu_ids"]))
    assert "CORRAL_WORKER_TOKEN" not in env and TOKEN not in master.output(7)
    assert not {k for k in env if k.startswith("CORRAL_")} - {
        "CORRAL_JOB_ID",
        "CORRAL_JOB_ATTEMPT",
        "CORRAL_CPU_IDS",
    }
    assert wait_finished(master, 8)["exit_code"] == 0
    assert master.output(8) == f"42 {tmp_path}\n"


def test_spawn_failures_are_reported_not_fatal(
    master: FakeMaster, spawn_worker: SpawnWorker, tmp_path: Path
) -> None:
    worker = spawn_worker(master.url, extra_args=FAST)
    master.assign(
        assignment(1, ["/no/such/program"]),
        assignment(2, ["true"], cwd=str(tmp_path / "missing")),
        assignment(3, []),
        assignment(4, ["sh", "-c", "exit 3"]),
    )
    for job_id in (1, 2, 3):
        event = wait_finished(master, job_id)
        assert event["exit_code"] is None and event["signal"] is None
        assert event["reason"] == "spawn_failed" and event["detail"]
        assert master.started(job_id) is None
    assert "/no/such/program" in str(master.finished(1))
    assert wait_finished(master, 4) == {**wait_finished(master, 4), "exit_code": 3, "reason": None}
    assert worker.proc.poll() is None


def test_a_timeout_kills_the_whole_process_group(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    spawn_worker(master.url, extra_args=FAST)
    master.assign(assignment(1, python(STUBBORN), timeout_s=0.5))
    pids = stubborn_pids(master, 1)
    event = wait_finished(master, 1)
    assert event["reason"] == "timeout" and event["signal"] == 9
    wait_dead(pids)


def test_cancel_ends_a_running_job(master: FakeMaster, spawn_worker: SpawnWorker) -> None:
    spawn_worker(master.url, extra_args=FAST)
    master.assign(assignment(1, ["sleep", "30"]), assignment(2, ["sleep", "30"], cpus=2))
    started: JobEvent = wait_for(lambda: master.started(1), what="job 1 to start")
    master.cancel(1)
    master.cancel(2)  # still waiting for CPUs: never starts
    event = wait_finished(master, 1)
    assert (event["reason"], event["signal"], event["exit_code"]) == ("cancelled", 15, None)
    assert not alive(started["pid"])
    assert wait_finished(master, 2)["reason"] == "cancelled"
    assert master.started(2) is None


def test_a_stale_attempt_is_killed_and_no_longer_reported(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    spawn_worker(master.url, extra_args=FAST)
    master.assign(assignment(1, python(STUBBORN)))
    pids = stubborn_pids(master, 1)
    master.disown(1)
    wait_dead(pids)
    master.assign(assignment(2, ["true"]))
    wait_finished(master, 2)
    assert master.finished(1) is None


def test_a_new_instance_kills_the_jobs_of_the_old_one(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    spawn_worker(master.url, extra_args=FAST)
    master.assign(assignment(1, python(STUBBORN)))
    pids = stubborn_pids(master, 1)
    master.forget("w1")
    wait_dead(pids)
    wait_for(lambda: len(master.registrations()) == 2, what="a new registration")
    master.assign(assignment(2, ["true"]))
    wait_finished(master, 2)
    assert master.finished(1) is None
    new = master.registrations()[1].body["instance_id"]
    report = [r for r in master.exchanges() if r.body["events"]][-1]
    assert report.path == EXCHANGE_PATH and report.body["instance_id"] == new

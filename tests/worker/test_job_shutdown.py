"""Jobs when the worker stops, loses the master, or died before: drain, fence, orphans."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from corral.protocol import DEREGISTER_PATH
from waiting import wait_for

from .conftest import SpawnWorker
from .fake_master import FakeMaster, assignment
from .jobs import STUBBORN, python, stubborn_pids, wait_finished
from .procs import alive, wait_dead


def test_drain_lets_short_jobs_finish_and_ends_long_ones(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(master.url, extra_args=("--drain-timeout", "1", "--kill-grace", "0.2"))
    master.assign(
        assignment(1, python("import time; time.sleep(0.4); print('done')")),
        assignment(2, python(STUBBORN)),
    )
    pids = stubborn_pids(master, 2)
    wait_for(lambda: master.started(1), what="job 1 to start")
    worker.send(signal.SIGTERM)
    wait_for(lambda: any(r.body["draining"] for r in master.exchanges()), what="draining: true")
    master.assign(assignment(3, ["true"]))  # arrives while draining: never started
    assert wait_finished(master, 3)["reason"] == "drained"
    first = wait_finished(master, 1)
    assert (first["exit_code"], first["reason"]) == (0, None)
    assert master.output(1) == "done\n"
    beats = len(master.heartbeats())
    wait_for(lambda: len(master.heartbeats()) > beats + 2, what="heartbeats while draining")
    assert master.finished(2) is None  # the long job still has its window
    second = wait_finished(master, 2)
    assert (second["reason"], second["signal"]) == ("drained", 9)
    wait_dead(pids)
    assert worker.wait() == 0
    assert master.started(3) is None
    assert master.requests[-1].path == DEREGISTER_PATH


def test_drain_with_nothing_running_exits_at_once(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(master.url)
    wait_for(master.exchanges, what="a parked poll")
    worker.send(signal.SIGTERM)
    assert worker.wait(2) == 0


def test_second_signal_kills_the_jobs_and_exits_at_once(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(master.url, extra_args=("--drain-timeout", "30"))
    master.assign(assignment(1, python(STUBBORN)))
    pids = stubborn_pids(master, 1)
    worker.send(signal.SIGTERM)
    wait_for(lambda: "draining" in worker.log(), what="the drain to begin")
    worker.send(signal.SIGTERM)
    assert worker.wait(1.5) == 128 + signal.SIGTERM
    wait_dead(pids)


def test_a_worker_cut_off_from_the_master_kills_its_jobs(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    master.lease_s = 1.0  # fenced after 0.6 s without contact
    worker = spawn_worker(master.url)
    master.assign(assignment(1, python(STUBBORN)))
    pids = stubborn_pids(master, 1)
    master.drop_requests = True
    cut_at = time.monotonic()
    wait_dead(pids, timeout=3.0)
    assert time.monotonic() - cut_at < 2.0
    assert "fenced" in worker.log()
    master.drop_requests = False
    event = wait_finished(master, 1)
    assert (event["reason"], event["signal"]) == ("fenced", 9)
    master.assign(assignment(2, ["true"]))  # and it takes work again
    assert wait_finished(master, 2)["exit_code"] == 0


def test_next_start_kills_the_job_groups_a_killed_worker_left(
    master: FakeMaster, spawn_worker: SpawnWorker, tmp_path: Path
) -> None:
    worker = spawn_worker(master.url)
    master.assign(assignment(1, python(STUBBORN)))
    pids = stubborn_pids(master, 1)
    worker.send(signal.SIGKILL)
    worker.wait()
    assert all(alive(pid) for pid in pids)  # nothing else would ever end them
    successor = spawn_worker(master.url)
    wait_dead(pids)
    wait_for(lambda: "killed 1 job process group" in successor.log(), what="the cleanup log")
    # The master hears of it with the successor's registration.
    told = wait_for(lambda: master.registrations()[1:], what="the successor's registration")
    assert told[-1].body["orphans_killed"] == 1
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700

"""The real worker process against a fake master: the agent protocol end to end."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from corral import __version__
from corral.protocol import DEREGISTER_PATH, HEARTBEAT_PATH, REGISTER_PATH
from waiting import wait_for

from .conftest import SpawnWorker
from .fake_master import TOKEN, FakeMaster
from .worker_process import clean_env


def test_registers_first_with_a_fresh_instance_id_each_start(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    first = spawn_worker(master.url)
    wait_for(master.heartbeats, what="a heartbeat")
    assert master.requests[0].path == REGISTER_PATH
    reg = master.registrations()[0]
    assert reg.authorization == f"Bearer {TOKEN}"
    assert reg.body["worker_id"] == "w1"
    assert reg.body["pid"] == first.pid
    assert reg.body["hostname"] == socket.gethostname()
    assert reg.body["version"] == __version__
    cpu_ids = reg.body["cpu_ids"]
    assert cpu_ids and set(cpu_ids) <= os.sched_getaffinity(0)
    uuid.UUID(reg.body["instance_id"])
    first.send(signal.SIGTERM)
    assert first.wait() == 0

    spawn_worker(master.url)
    wait_for(lambda: len(master.registrations()) == 2, what="a second registration")
    ids = [r.body["instance_id"] for r in master.registrations()]
    assert ids[0] != ids[1]


def test_heartbeats_carry_metrics_at_the_given_interval(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    master.heartbeat_interval_s = 30.0  # the command-line interval must win
    spawn_worker(master.url, interval=0.05)
    wait_for(lambda: len(master.heartbeats()) >= 6, 5.0, what="six heartbeats")
    beats = master.heartbeats()
    instance_id = master.registrations()[0].body["instance_id"]
    for beat in beats:
        assert beat.body["instance_id"] == instance_id
        assert isinstance(beat.body["cpu_percent"], float) and beat.body["cpu_percent"] >= 0
        assert isinstance(beat.body["memory_bytes"], int) and beat.body["memory_bytes"] > 0
    gaps = [b.at - a.at for a, b in itertools.pairwise(beats)]
    assert sum(gaps) / len(gaps) >= 0.03  # paced, not a burst
    # One keep-alive connection carries all the heartbeats.
    assert len({b.client_port for b in beats}) == 1


def test_uses_the_masters_interval_without_the_flag(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    master.heartbeat_interval_s = 0.05
    spawn_worker(master.url, interval=None)
    wait_for(lambda: len(master.heartbeats()) >= 3, 3.0, what="heartbeats at 0.05 s")


@pytest.mark.parametrize("style", ["detail", "flat"])
def test_reregisters_with_a_new_instance_id_when_stale(
    master: FakeMaster, spawn_worker: SpawnWorker, style: str
) -> None:
    master.stale_style = style
    spawn_worker(master.url)
    wait_for(master.heartbeats, what="a heartbeat")
    old = master.registrations()[0].body["instance_id"]
    master.forget("w1")
    wait_for(lambda: len(master.registrations()) == 2, what="a re-registration")
    new = master.registrations()[1].body["instance_id"]
    assert new != old
    wait_for(lambda: master.heartbeats(new), what="heartbeats from the new instance")


def test_retries_until_the_master_comes_up(
    idle_master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(idle_master.url)
    wait_for(lambda: "cannot register yet" in worker.log(), what="a failed attempt")
    assert worker.proc.poll() is None
    idle_master.start()
    wait_for(idle_master.registrations, 5.0, what="a registration")
    wait_for(idle_master.heartbeats, what="a heartbeat")


def test_signal_while_waiting_for_the_master_exits_cleanly(
    idle_master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(idle_master.url)
    wait_for(lambda: "cannot register yet" in worker.log(), what="a failed attempt")
    worker.send(signal.SIGTERM)
    assert worker.wait(3) == 0


def test_without_a_token_exits_2(master: FakeMaster, spawn_worker: SpawnWorker) -> None:
    worker = spawn_worker(master.url, token=None)
    assert worker.wait() == 2
    assert "CORRAL_WORKER_TOKEN" in worker.log()
    assert master.requests == []


def test_master_and_id_may_come_from_the_environment(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    env = {"CORRAL_MASTER_URL": master.url, "CORRAL_WORKER_ID": "from-env"}
    spawn_worker(None, worker_id=None, env=env)
    reg = wait_for(master.registrations, what="a registration")[0]
    assert reg.body["worker_id"] == "from-env"


@pytest.mark.parametrize("refusal", ["bad_token", "unknown_worker"])
def test_refused_registration_exits_3(
    master: FakeMaster, spawn_worker: SpawnWorker, refusal: str
) -> None:
    if refusal == "bad_token":
        master.token = "another-token"
    else:
        master.unknown_workers = True
    worker = spawn_worker(master.url)
    assert worker.wait() == 3
    assert "refused" in worker.log()
    assert len(master.registrations()) == 1


def test_token_revoked_while_running_exits_3(master: FakeMaster, spawn_worker: SpawnWorker) -> None:
    worker = spawn_worker(master.url)
    wait_for(master.heartbeats, what="a heartbeat")
    master.token = "rotated"
    assert worker.wait() == 3


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_deregisters_and_exits_0(
    master: FakeMaster, spawn_worker: SpawnWorker, signum: int
) -> None:
    worker = spawn_worker(master.url)
    wait_for(master.heartbeats, what="a heartbeat")
    worker.send(signum)
    assert worker.wait() == 0
    [dereg] = master.deregistrations()
    assert dereg.body == {
        "worker_id": "w1",
        "instance_id": master.registrations()[0].body["instance_id"],
        "reason": "shutdown",
    }
    assert master.requests[-1].path == DEREGISTER_PATH  # heartbeats stopped first


def test_second_signal_during_a_slow_shutdown_exits_at_once(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    master.hold.add(DEREGISTER_PATH)
    worker = spawn_worker(master.url)
    wait_for(master.heartbeats, what="a heartbeat")
    worker.send(signal.SIGTERM)
    wait_for(master.deregistrations, what="the deregister request")
    worker.send(signal.SIGTERM)
    assert worker.wait(1.5) == 128 + signal.SIGTERM


def test_exits_at_once_when_the_parent_is_already_gone(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    worker = spawn_worker(master.url, env={"CORRAL_PARENT_PID": str(gone.pid)})
    assert worker.wait() == 1
    assert master.requests == []


def test_runs_while_the_parent_lives(master: FakeMaster, spawn_worker: SpawnWorker) -> None:
    spawn_worker(master.url, env={"CORRAL_PARENT_PID": str(os.getpid())})
    wait_for(master.heartbeats, what="a heartbeat")


def test_keeps_heartbeating_through_an_outage(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(master.url)
    wait_for(master.heartbeats, what="a heartbeat")
    master.drop_requests = True
    wait_for(lambda: "lost contact" in worker.log(), what="the outage to be noticed")
    during = len(master.heartbeats())
    wait_for(lambda: len(master.heartbeats()) >= during + 3, what="retries during the outage")
    master.drop_requests = False
    wait_for(lambda: "restored" in worker.log(), what="contact to come back")
    assert len(master.registrations()) == 1  # the same instance carries on


def test_a_closed_log_pipe_does_not_break_the_shutdown(master: FakeMaster, tmp_path: Path) -> None:
    # When the master dies, the read end of the worker's stderr pipe goes with it.
    worker = subprocess.Popen(
        [sys.executable, "-m", "corral.worker", "--master", master.url, "--worker-id", "w1"],
        env=clean_env(CORRAL_WORKER_TOKEN=TOKEN, CORRAL_WORKER_STATE_DIR=str(tmp_path / "state")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(master.registrations, what="a registration")
        assert worker.stdout is not None and worker.stderr is not None
        worker.stdout.close()
        worker.stderr.close()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(5) == 0
        wait_for(master.deregistrations, what="the deregister request")
    finally:
        worker.kill()
        worker.wait()


def test_a_hung_heartbeat_does_not_hold_up_the_shutdown(
    master: FakeMaster, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(master.url)
    wait_for(master.heartbeats, what="a heartbeat")
    master.hold.add(HEARTBEAT_PATH)
    count = len(master.heartbeats())
    wait_for(lambda: len(master.heartbeats()) > count, what="a heartbeat that hangs")
    worker.send(signal.SIGTERM)
    assert worker.wait(4) == 0
    assert len(master.deregistrations()) == 1

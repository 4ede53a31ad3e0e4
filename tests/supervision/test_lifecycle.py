"""Operator commands and master restarts, with workers that live in memory."""

import signal
from pathlib import Path

import pytest

from corral.db.engine import sqlite_url
from corral.domain.worker_states import DesiredState, WorkerState
from corral.domain.workers import WorkerConfig
from corral.errors import ConflictError, NotFoundError
from corral.master.data_key import load_ring
from corral.master.database import Database
from fake_launcher import FIRST_PID
from supervision.conftest import OpenRig
from supervision.rig import Rig

pytestmark = pytest.mark.anyio

STOP_TIMEOUT_S = 1.0  # the rig's stop_timeout_s (see conftest.SETTINGS)


async def test_start_register_and_stop_take_the_edges_of_the_state_machine(rig: Rig) -> None:
    sup = await rig.add(auto_start=False)
    assert (await rig.row()).state == "stopped" and rig.launched() == []
    await sup.start()
    handle = await rig.launch_number(1)
    starting = await rig.row()
    assert starting.state == "starting" and starting.desired_state == "running"
    rig.register()
    running = await rig.row()
    assert running.state == "running" and running.pid == handle.pid and running.cpu_ids == [0, 1]
    await sup.stop(graceful=True, timeout_s=2.0)
    assert handle.stop_timeouts == [2.0]
    stopped = await rig.row()
    assert stopped.state == "stopped" and stopped.desired_state == "stopped"
    assert stopped.exit_code == 0 and stopped.pid is None
    assert await rig.edges() == [
        ("stopped", "starting"),
        ("starting", "running"),
        ("running", "stopping"),
        ("stopping", "stopped"),
    ]


async def test_starting_an_active_worker_is_a_conflict(rig: Rig) -> None:
    sup = await rig.add()
    await rig.launch_number(1)
    with pytest.raises(ConflictError):
        await sup.start()
    rig.register()
    with pytest.raises(ConflictError):
        await sup.start()
    assert len(rig.launched()) == 1


async def test_a_stop_that_needs_sigkill_records_the_signal(rig: Rig) -> None:
    sup = await rig.running()
    rig.launched()[0].ignores_sigterm = True
    await sup.stop(graceful=True, timeout_s=0.05)
    stopped = await rig.row()
    assert stopped.state == "stopped" and stopped.exit_signal == signal.SIGKILL


async def test_a_worker_stopped_before_it_registers_ends_stopped(rig: Rig) -> None:
    sup = await rig.add()
    handle = await rig.launch_number(1)
    await sup.stop(graceful=True, timeout_s=1.0)
    assert handle.exited and (await rig.row()).state == "stopped"
    assert (await rig.edges())[-2:] == [("starting", "stopping"), ("stopping", "stopped")]


async def test_restart_by_hand_replaces_the_instance(rig: Rig) -> None:
    sup = await rig.running()
    before = await rig.row()
    await sup.restart(graceful=True, timeout_s=1.0)
    first, _ = rig.launched()
    assert first.exited and first.stop_timeouts == [1.0]
    rig.register()
    after = await rig.row()
    assert after.state == "running" and after.instance_id != before.instance_id
    assert after.restart_count == 0, "only automatic restarts are counted"


async def test_a_changed_config_applies_at_the_next_start(rig: Rig) -> None:
    sup = await rig.running(env={"COLOUR": "red"})
    await rig.svc.lifecycle.update("w1", {"env": {"COLOUR": "blue"}})
    assert rig.launched()[0].spec.env["COLOUR"] == "red"
    await sup.restart(graceful=True, timeout_s=1.0)
    assert (await rig.launch_number(2)).spec.env["COLOUR"] == "blue"


async def test_removing_a_worker_stops_it_then_forgets_it(rig: Rig) -> None:
    await rig.running()
    await rig.svc.lifecycle.remove("w1")
    assert rig.launched()[0].exited
    with pytest.raises(NotFoundError):
        rig.svc.lifecycle.get("w1")
    with pytest.raises(NotFoundError):
        (await rig.row())


async def test_kill_all_kills_every_worker_at_once(rig: Rig) -> None:
    await rig.running("a")
    await rig.running("b")
    rig.svc.lifecycle.kill_all()
    assert all(h.killed for h in rig.launched("a") + rig.launched("b"))


async def test_a_shutdown_stops_workers_and_the_next_master_restores_them(
    open_rig: OpenRig,
) -> None:
    first = await open_rig()
    await first.running("up")
    down = await first.running("down")
    await down.stop(graceful=True, timeout_s=1.0)
    await first.close()
    assert first.launched("up")[0].stop_timeouts == [STOP_TIMEOUT_S]
    second = await open_rig()
    await second.launch_number(1, "up")
    assert (await second.row("up")).desired_state == "running"
    assert (await second.edges("up"))[-3:] == [
        ("running", "stopping"),
        ("stopping", "stopped"),
        ("stopped", "starting"),
    ]
    assert second.launched("down") == [] and (await second.row("down")).state == "stopped"


async def test_a_worker_a_dead_master_left_running_is_settled_then_started(
    open_rig: OpenRig, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = Database.open(sqlite_url(data), load_ring(data))
    try:
        db.configs.create(WorkerConfig(worker_id="w1", name="w1"))
        db.runtime.transition("w1", WorkerState.STARTING, "", desired_state=DesiredState.RUNNING)
        # No process has this pid: the stale-process cleanup must find nothing to kill.
        db.runtime.transition("w1", WorkerState.RUNNING, "", pid=FIRST_PID - 1)
    finally:
        db.close()
    rig = await open_rig(data)
    await rig.launch_number(1)
    assert (await rig.edges())[-2:] == [("running", "crashed"), ("crashed", "starting")]
    assert (await rig.row()).desired_state == "running"

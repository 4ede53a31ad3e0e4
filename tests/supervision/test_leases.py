"""Heartbeat leases and the start deadline, checked at chosen times or by the real monitor."""

import time

import pytest

from corral.errors import ForbiddenError
from corral.master.workers.supervisor import StaleInstanceError
from supervision.conftest import OpenRig
from supervision.rig import Rig

pytestmark = pytest.mark.anyio

LEASE_S = 30.0  # the rig's lease and start timeout (see conftest.SETTINGS)


async def test_a_silent_worker_is_lost_then_killed_and_restarted(rig: Rig) -> None:
    sup = await rig.running(restart_delay_ms=0)
    sup.check_lease(time.monotonic() + LEASE_S - 1)
    assert (await rig.row()).state == "running", "still inside its lease"
    sup.check_lease(time.monotonic() + LEASE_S + 1)
    assert rig.launched()[0].killed, "a lost worker with auto-restart is killed"
    await rig.launch_number(2)
    assert (await rig.row()).restart_count == 1
    assert (await rig.edges())[2:] == [
        ("running", "lost"),
        ("lost", "crashed"),
        ("crashed", "starting"),
    ]


async def test_a_lost_worker_without_auto_restart_may_come_back_as_a_new_instance(
    rig: Rig,
) -> None:
    sup = await rig.running(auto_restart=False)
    first = (await rig.row()).instance_id
    assert first is not None
    sup.check_lease(time.monotonic() + LEASE_S + 1)
    assert (await rig.row()).state == "lost"
    assert not rig.launched()[0].killed, "without auto-restart the process is left alone"
    with pytest.raises(StaleInstanceError):
        sup.heartbeat(first, 1.0, 1024)  # the lost instance is fenced off
    rig.register()
    back = await rig.row()
    assert back.state == "running" and back.instance_id != first
    assert (await rig.edges())[-2:] == [("running", "lost"), ("lost", "running")]


async def test_heartbeats_of_the_current_instance_are_stored(rig: Rig) -> None:
    sup = await rig.running()
    instance = (await rig.row()).instance_id
    assert instance is not None
    sup.heartbeat(instance, 12.5, 4096)
    row = await rig.row()
    assert row.cpu_percent == 12.5 and row.memory_bytes == 4096
    assert row.last_heartbeat_at is not None
    with pytest.raises(StaleInstanceError):
        sup.heartbeat("0" * 32, 1.0, 1)


async def test_a_worker_that_never_registers_is_killed_at_its_start_deadline(rig: Rig) -> None:
    sup = await rig.add(restart_delay_ms=0)
    first = await rig.launch_number(1)
    sup.check_lease(time.monotonic() + LEASE_S - 1)
    assert not first.killed
    sup.check_lease(time.monotonic() + LEASE_S + 1)
    assert first.killed
    await rig.launch_number(2)
    assert await rig.edges() == [
        ("stopped", "starting"),
        ("starting", "crashed"),
        ("crashed", "starting"),
    ]


async def test_only_the_launched_process_may_register(rig: Rig) -> None:
    sup = await rig.add(auto_start=False)
    with pytest.raises(ForbiddenError):
        sup.registered("1" * 32, 1234, "h", [0])  # nothing was started
    await sup.start()
    handle = await rig.launch_number(1)
    assert handle.pid is not None
    with pytest.raises(ForbiddenError):
        sup.registered("1" * 32, handle.pid + 1, "h", [0])
    assert (await rig.row()).state == "starting"


async def test_the_monitor_marks_silence_lost_on_its_own(open_rig: OpenRig) -> None:
    rig = await open_rig(lease_s=0.2, start_timeout_s=0.2)
    await rig.add("quiet", auto_restart=False)
    await rig.launch_number(1, "quiet")
    rig.register("quiet")
    await rig.add("mute", auto_restart=False)
    never = await rig.launch_number(1, "mute")
    await rig.state("lost", "quiet")
    await rig.state("crashed", "mute")
    assert never.killed, "no registration within the start timeout"

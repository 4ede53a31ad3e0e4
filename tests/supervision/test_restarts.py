"""Crashes, backoff, the restart budget and the error state, with workers that live in memory."""

import asyncio
import signal
import time
from datetime import datetime

import pytest

from corral.launchers.base import ExitStatus
from supervision.conftest import OpenRig
from supervision.rig import Rig

pytestmark = pytest.mark.anyio

SIGKILLED = ExitStatus(signal=signal.SIGKILL)
FAILED = ExitStatus(exit_code=3)
JITTER = 0.2  # the restart policy's spread around each delay
# The crash time and the restart time are taken in memory a moment apart.
SLACK_S = 0.05


def seconds(later: datetime | None, earlier: datetime | None) -> float:
    """The time between two recorded timestamps."""
    assert later is not None and earlier is not None
    return (later - earlier).total_seconds()


async def crash_before_registering(rig: Rig, launches: int) -> None:
    """Let the worker's first ``launches`` instances exit with code 3 before they register."""
    for n in range(1, launches + 1):
        (await rig.launch_number(n)).exit(FAILED)


async def test_a_crash_is_restarted_after_a_backoff_that_doubles(rig: Rig) -> None:
    await rig.add(restart_delay_ms=100, max_restart_attempts=10)
    for n, delay in ((1, 0.1), (2, 0.2), (3, 0.4)):
        handle = await rig.launch_number(n)
        rig.register()
        died = time.monotonic()
        handle.exit(SIGKILLED)
        crashed = await rig.state("crashed", restart_count=n)
        assert crashed.exit_signal == signal.SIGKILL and crashed.error_count == n
        planned = seconds(crashed.next_restart_at, crashed.stopped_at)
        assert (1 - JITTER) * delay <= planned <= (1 + JITTER) * delay + SLACK_S, (n, planned)
        await rig.launch_number(n + 1)
        # A loaded machine may delay the restart, never hasten it.
        assert time.monotonic() - died >= (1 - JITTER) * delay, "restarted before its delay"
        assert rig.status().state == "starting" and rig.status().exit_signal is None
    cycle = [("starting", "running"), ("running", "crashed"), ("crashed", "starting")]
    assert await rig.edges() == [("stopped", "starting"), *cycle * 3]
    assert (await rig.row()).restart_count == 3


async def test_a_spent_budget_is_error_until_a_start_by_hand(rig: Rig) -> None:
    sup = await rig.add(restart_delay_ms=0, max_restart_attempts=2)
    await crash_before_registering(rig, 3)
    await rig.state("error")
    error = await rig.row()
    assert error.state == "error" and error.restart_count == 2 and error.exit_code == 3
    assert error.desired_state == "running", "error keeps what the operator asked for"
    assert len(rig.launched()) == 3
    assert (await rig.edges())[-2:] == [("starting", "crashed"), ("crashed", "error")]
    await sup.start()
    await rig.launch_number(4)
    rig.register()
    assert rig.status().state == "running"
    rig.launched()[-1].exit(FAILED)
    await rig.launch_number(5)  # a start by hand gives a fresh budget


async def test_a_stable_run_forgets_earlier_crashes(open_rig: OpenRig) -> None:
    rig = await open_rig(stable_after_s=0.2)
    await rig.add(restart_delay_ms=0, max_restart_attempts=2)
    await crash_before_registering(rig, 2)  # two restarts: the budget is spent
    handle = await rig.launch_number(3)
    rig.register()
    await asyncio.sleep(0.2)  # the run lasts long enough to count as stable
    handle.exit(SIGKILLED)
    await rig.launch_number(4)
    assert (await rig.row()).restart_count == 3


async def test_without_auto_restart_a_crash_stays_crashed(rig: Rig) -> None:
    await rig.add(auto_restart=False, restart_delay_ms=0)
    handle = await rig.launch_number(1)
    rig.register()
    handle.exit(SIGKILLED)
    await rig.state("crashed")
    await asyncio.sleep(0.05)  # a restart would have come at once: its delay is 0
    crashed = await rig.row()
    assert crashed.state == "crashed" and crashed.exit_signal == signal.SIGKILL
    assert crashed.error_count == 1 and crashed.restart_count == 0
    assert crashed.next_restart_at is None and len(rig.launched()) == 1


async def test_stop_while_crashed_cancels_the_pending_restart(rig: Rig) -> None:
    sup = await rig.add(restart_delay_ms=50)
    handle = await rig.launch_number(1)
    rig.register()
    handle.exit(SIGKILLED)
    await rig.state("crashed", restart_count=1)
    await sup.stop(graceful=True, timeout_s=1.0)
    await asyncio.sleep(0.15)  # three times the restart delay
    stopped = await rig.row()
    assert stopped.state == "stopped" and stopped.desired_state == "stopped"
    assert stopped.next_restart_at is None and len(rig.launched()) == 1


async def test_a_failed_launch_counts_as_a_crash(rig: Rig) -> None:
    rig.launcher.failures = 2
    await rig.add(restart_delay_ms=0, max_restart_attempts=5)
    await rig.launch_number(1)  # the third try
    row = await rig.row()
    assert row.state == "starting" and row.error_count == 2 and row.restart_count == 2
    assert row.last_error is not None and "no such host" in row.last_error
    assert await rig.edges() == [
        ("stopped", "starting"),
        ("starting", "crashed"),
        ("crashed", "starting"),
        ("starting", "crashed"),
        ("crashed", "starting"),
    ]

"""LocalLauncher stop and kill with real processes and signals."""

import asyncio
import signal

from corral.launchers.base import ExitStatus
from launchers.launcher_helpers import (
    DEADLINE_S,
    RecordingSink,
    Run,
    alive,
    live_group_members,
    running,
)
from waiting import wait_for_async

KILLED = ExitStatus(signal=signal.SIGKILL)


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(run: Run) -> None:
    async def scenario() -> None:
        async with running("ignore-term") as (handle, sink):
            await wait_for_async(lambda: sink.has("stdout", b"ready"))
            status = await asyncio.wait_for(handle.stop(0.3), DEADLINE_S)
            assert status == KILLED

    run(scenario())


def test_stop_reports_sigterm_when_the_worker_dies_of_it(run: Run) -> None:
    async def scenario() -> None:
        async with running("default-term") as (handle, sink):
            await wait_for_async(lambda: sink.has("stdout", b"ready"))
            status = await asyncio.wait_for(handle.stop(DEADLINE_S), DEADLINE_S)
            assert status == ExitStatus(signal=signal.SIGTERM)

    run(scenario())


def test_stop_reports_the_workers_own_exit_code(run: Run) -> None:
    async def scenario() -> None:
        async with running("exit-7-on-term") as (handle, sink):
            await wait_for_async(lambda: sink.has("stdout", b"ready"))
            status = await asyncio.wait_for(handle.stop(DEADLINE_S), DEADLINE_S)
            assert status == ExitStatus(exit_code=7)

    run(scenario())


def test_stop_leaves_no_member_of_the_group_alive(run: Run) -> None:
    async def scenario() -> None:
        async with running("stray-child") as (handle, sink):
            # One "ready" from the worker, one from its child.
            await wait_for_async(lambda: sink.lines["stdout"].count(b"ready") == 2)
            child_line = next(x for x in sink.lines["stdout"] if x.startswith(b"child "))
            child = int(child_line.split()[1])
            assert handle.pid is not None
            assert child in live_group_members(handle.pid)
            status = await asyncio.wait_for(handle.stop(DEADLINE_S), DEADLINE_S)
            assert status == ExitStatus(signal=signal.SIGTERM)
            pgid = handle.pid
            await wait_for_async(lambda: not live_group_members(pgid) and not alive(child))

    run(scenario())


def test_stop_is_idempotent_and_concurrent_calls_share_it(run: Run) -> None:
    async def scenario() -> None:
        async with running("ignore-term") as (handle, sink):
            await wait_for_async(lambda: sink.has("stdout", b"ready"))
            stops = [handle.stop(0.2), handle.stop(DEADLINE_S), handle.stop(0.0)]
            results = await asyncio.wait_for(asyncio.gather(*stops), DEADLINE_S)
            assert results == [KILLED, KILLED, KILLED]
            assert await handle.stop(0.0) == KILLED
            assert await handle.wait() == KILLED

    run(scenario())


def test_stop_after_exit_returns_the_exit_status(run: Run) -> None:
    async def scenario() -> None:
        async with running("output") as (handle, _):
            assert await asyncio.wait_for(handle.wait(), DEADLINE_S) == ExitStatus(exit_code=3)
            status = await asyncio.wait_for(handle.stop(1.0), DEADLINE_S)
            assert status == ExitStatus(exit_code=3)
            handle.kill()  # Nothing left to kill: no error either.

    run(scenario())


def test_kill_is_immediate(run: Run) -> None:
    async def scenario() -> None:
        async with running("ignore-term") as (handle, sink):
            await wait_for_async(lambda: sink.has("stdout", b"ready"))
            handle.kill()
            assert await asyncio.wait_for(handle.wait(), DEADLINE_S) == KILLED

    run(scenario())


def _child(sink: RecordingSink) -> int:
    """The pid the stand-in printed for its child."""
    line = next(x for x in sink.lines["stdout"] if x.startswith(b"child "))
    return int(line.split()[1])


def test_kill_takes_the_jobs_in_their_own_groups_along(run: Run) -> None:
    async def scenario() -> None:
        async with running("job") as (handle, sink):
            await wait_for_async(lambda: sink.lines["stdout"].count(b"ready") == 2)
            job = _child(sink)
            assert handle.pid is not None and job not in live_group_members(handle.pid)
            handle.kill()
            assert await asyncio.wait_for(handle.wait(), DEADLINE_S) == KILLED
            await wait_for_async(lambda: not alive(job), timeout_s=1.0)

    run(scenario())


def test_a_stop_that_times_out_takes_the_jobs_along(run: Run) -> None:
    async def scenario() -> None:
        async with running("job-ignore-term") as (handle, sink):
            await wait_for_async(lambda: sink.lines["stdout"].count(b"ready") == 2)
            job = _child(sink)
            assert await asyncio.wait_for(handle.stop(0.2), DEADLINE_S) == KILLED
            await wait_for_async(lambda: not alive(job), timeout_s=1.0)

    run(scenario())

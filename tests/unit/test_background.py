"""Background tasks: a failing step runs again; a task that keeps dying stops the master."""

import asyncio

import pytest

from corral.master import background
from corral.master.background import Background


def test_a_failing_periodic_step_runs_again(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> list[int]:
        calls: list[int] = []
        five = asyncio.Event()

        def step() -> None:
            calls.append(len(calls))
            if len(calls) >= 5:
                five.set()
            if len(calls) < 3:
                raise RuntimeError("not yet")

        tasks = Background(on_fatal=lambda why: pytest.fail(why))
        tasks.every("flaky", 0.001, step)
        await asyncio.wait_for(five.wait(), 10)
        await tasks.stop()
        return calls

    assert len(asyncio.run(scenario())) >= 5
    assert caplog.text.count("flaky failed") == 2


def test_a_task_that_keeps_dying_is_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background, "MAX_RESTARTS", 2)

    async def scenario() -> tuple[list[str], int]:
        fatal: list[str] = []
        told = asyncio.Event()
        runs = 0

        async def dies() -> None:
            nonlocal runs
            runs += 1
            raise OSError("disk on fire")

        def on_fatal(why: str) -> None:
            fatal.append(why)
            told.set()

        tasks = Background(on_fatal=on_fatal)
        tasks.keep("doomed", dies)
        await asyncio.wait_for(told.wait(), 10)
        await tasks.stop()
        return fatal, runs

    fatal, runs = asyncio.run(scenario())
    assert runs == 3
    assert fatal == ["background task doomed failed: OSError('disk on fire') 3 times in 60 s"]


def test_stop_cancels_what_runs() -> None:
    async def scenario() -> bool:
        stopped = asyncio.Event()

        async def forever() -> None:
            try:
                await asyncio.sleep(3600)
            finally:
                stopped.set()

        tasks = Background(on_fatal=lambda why: None)
        tasks.keep("sleeper", forever)
        await asyncio.sleep(0)
        await tasks.stop()
        return stopped.is_set()

    assert asyncio.run(scenario())

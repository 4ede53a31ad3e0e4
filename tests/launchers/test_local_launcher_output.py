"""LocalLauncher with real processes: output capture, exit statuses, exit seen at once."""

import asyncio
import os
import re
import signal
from pathlib import Path

from corral.launchers.base import ExitStatus
from corral.launchers.local import LocalLauncher
from corral.master.log_files import WorkerLogFiles
from launchers.launcher_helpers import DEADLINE_S, RecordingSink, Run, alive, running
from launchers.worker_stand_in import LONG_LINE
from waiting import wait_for_async

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"


def _child_pid(sink: RecordingSink) -> int:
    line = next(line for line in sink.lines["stdout"] if line.startswith(b"child "))
    return int(line.split()[1])


def test_captures_every_line_and_the_exit_code(run: Run) -> None:
    async def scenario() -> None:
        async with running("output") as (handle, sink):
            status = await asyncio.wait_for(handle.wait(), DEADLINE_S)
            assert status == ExitStatus(exit_code=3)
            out = sink.lines["stdout"]
            assert out[:3] == [b"out-1", b"out-2", b"out-3"]
            assert out[-1] == b"last-without-newline"
            # The long line arrives in pieces of the default 64 KiB limit.
            assert all(len(piece) <= 64 * 1024 for piece in out[3:-1])
            assert b"".join(out[3:-1]) == b"x" * LONG_LINE
            assert sink.lines["stderr"] == [b"err-1", b"err-2"]

    run(scenario())


def test_line_limit_splits_long_lines(run: Run) -> None:
    async def scenario() -> None:
        launcher = LocalLauncher(max_line_bytes=1000)
        async with running("output", launcher=launcher) as (handle, sink):
            await asyncio.wait_for(handle.wait(), DEADLINE_S)
            pieces = sink.lines["stdout"][3:-1]
            assert len(pieces) == LONG_LINE // 1000
            assert {len(piece) for piece in pieces} == {1000}

    run(scenario())


def test_output_lands_in_log_files_with_timestamps(run: Run, tmp_path: Path) -> None:
    async def scenario() -> None:
        files = WorkerLogFiles(tmp_path / "logs")
        async with running("output", sink=files.sink("w1")) as (handle, _):
            assert await asyncio.wait_for(handle.wait(), DEADLINE_S) == ExitStatus(exit_code=3)
        out = files.tail("w1", "stdout", 100)
        assert re.fullmatch(f"{STAMP} out-1", out[0])
        assert re.fullmatch(f"{STAMP} last-without-newline", out[-1])
        err = files.tail("w1", "stderr", 100)
        assert all(re.match(f"{STAMP} ", line) for line in err)
        assert [line.split(" ", 1)[1] for line in err] == ["err-1", "err-2"]
        files.close_all()

    run(scenario())


def test_handle_properties(run: Run) -> None:
    async def scenario() -> None:
        async with running("default-term") as (handle, sink):
            await wait_for_async(lambda: sink.has("stdout", b"ready"))
            assert handle.pid is not None
            assert os.getpgid(handle.pid) == handle.pid  # It leads its own group.
            assert handle.container_id is None

    run(scenario())


def test_exit_by_outside_signal_is_noticed(run: Run) -> None:
    async def scenario() -> None:
        async with running("default-term") as (handle, sink):
            await wait_for_async(lambda: sink.has("stdout", b"ready"))
            assert handle.pid is not None
            os.kill(handle.pid, signal.SIGKILL)
            status = await asyncio.wait_for(handle.wait(), DEADLINE_S)
            assert status == ExitStatus(signal=signal.SIGKILL)

    run(scenario())


def test_exit_is_noticed_while_a_child_holds_the_pipes(run: Run) -> None:
    async def scenario() -> None:
        launcher = LocalLauncher(drain_timeout_s=0.2)
        async with running("exit-leaving-child", launcher=launcher) as (handle, sink):
            status = await asyncio.wait_for(handle.wait(), DEADLINE_S)
            assert status == ExitStatus(exit_code=0)
            await wait_for_async(
                lambda: any(line.startswith(b"child ") for line in sink.lines["stdout"])
            )
            child = _child_pid(sink)
            assert alive(child)  # wait() only watches; it kills nothing.
            handle.kill()  # Still reaches the group the leader left behind.
            await wait_for_async(lambda: not alive(child))

    run(scenario())

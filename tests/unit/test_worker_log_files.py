"""WorkerLogFiles: timestamped lines, size rotation, tail, follow, and path safety."""

import asyncio
import gc
import re
from pathlib import Path

import pytest

from corral.errors import InvalidInputError
from corral.master.log_files import WorkerLogFiles

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
DEADLINE_S = 5.0


def _texts(lines: list[str]) -> list[str]:
    """The lines without their timestamps, checking that each has one."""
    texts = []
    for line in lines:
        match = re.fullmatch(f"{STAMP} (.*)", line)
        assert match is not None, line
        texts.append(match[1])
    return texts


def _write(files: WorkerLogFiles, worker_id: str, *texts: str, stream: str = "stdout") -> None:
    sink = files.sink(worker_id)
    for text in texts:
        sink.write_line(stream, text.encode())


def test_lines_are_timestamped_decoded_and_tailed(tmp_path: Path) -> None:
    files = WorkerLogFiles(tmp_path)
    sink = files.sink("w1")
    for line in [b"hello", b"windows\r", b"bad \xff byte"]:
        sink.write_line("stdout", line)
    sink.write_line("stderr", b"oops")
    assert _texts(files.tail("w1", "stdout", 10)) == ["hello", "windows", "bad \ufffd byte"]
    assert _texts(files.tail("w1", "stdout", 1)) == ["bad \ufffd byte"]
    assert _texts(files.tail("w1", "stderr", 10)) == ["oops"]
    assert (tmp_path / "w1" / "stdout.log").is_file()
    files.close_all()


def test_nothing_written_tails_empty(tmp_path: Path) -> None:
    files = WorkerLogFiles(tmp_path, max_bytes=100, backups=3)
    assert files.tail("nobody", "stdout", 10) == []
    files.sink("quiet")
    assert files.tail("quiet", "stderr", 10) == []
    _write(files, "w1", "one")
    assert files.tail("w1", "stdout", 0) == []
    files.close("quiet")
    files.close("nobody")


def test_rotation_keeps_the_configured_number_of_backups(tmp_path: Path) -> None:
    files = WorkerLogFiles(tmp_path, max_bytes=300, backups=2)
    texts = [f"line-{i:03d}" for i in range(60)]
    _write(files, "w1", *texts)
    folder = tmp_path / "w1"
    assert sorted(p.name for p in folder.iterdir()) == [
        "stdout.log",
        "stdout.log.1",
        "stdout.log.2",
    ]
    assert all(p.stat().st_size <= 300 for p in folder.iterdir())
    kept = _texts(files.tail("w1", "stdout", 1000))
    assert kept == texts[-len(kept) :]  # Contiguous, newest last, oldest ones rotated away.
    in_current = len((folder / "stdout.log").read_text().splitlines())
    across = _texts(files.tail("w1", "stdout", in_current + 3))
    assert across == texts[-(in_current + 3) :]
    files.close_all()


def test_no_backups_means_truncation(tmp_path: Path) -> None:
    files = WorkerLogFiles(tmp_path, max_bytes=200, backups=0)
    _write(files, "w1", *(f"line-{i:03d}" for i in range(40)))
    assert [p.name for p in (tmp_path / "w1").iterdir()] == ["stdout.log"]
    assert _texts(files.tail("w1", "stdout", 1)) == ["line-039"]
    files.close_all()


def test_tail_crosses_read_blocks(tmp_path: Path) -> None:
    files = WorkerLogFiles(tmp_path)
    texts = [f"{i:05d} " + "y" * 60 for i in range(5000)]  # About 400 KiB.
    _write(files, "w1", *texts)
    assert _texts(files.tail("w1", "stdout", 3)) == texts[-3:]
    assert _texts(files.tail("w1", "stdout", 2000)) == texts[-2000:]
    assert _texts(files.tail("w1", "stdout", 10_000)) == texts
    files.close_all()


def test_close_then_write_again_appends(tmp_path: Path) -> None:
    files = WorkerLogFiles(tmp_path)
    _write(files, "w1", "before")
    files.close("w1")
    _write(files, "w1", "after")
    assert _texts(WorkerLogFiles(tmp_path).tail("w1", "stdout", 5)) == ["before", "after"]
    files.close_all()


@pytest.mark.parametrize("worker_id", ["../x", "a/b", "", "W1", ".hidden", "x" * 64, "w1\x00"])
def test_bad_worker_ids_are_refused(tmp_path: Path, worker_id: str) -> None:
    files = WorkerLogFiles(tmp_path)
    with pytest.raises(InvalidInputError):
        files.tail(worker_id, "stdout", 10)
    with pytest.raises(InvalidInputError):
        files.sink(worker_id)
    with pytest.raises(InvalidInputError):
        files.write_line(worker_id, "stdout", b"x")
    with pytest.raises(InvalidInputError):
        files.follow(worker_id, "stdout")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("stream", ["stdin", "../stdout", "stdout.log", "", "STDOUT"])
def test_bad_streams_are_refused(tmp_path: Path, stream: str) -> None:
    files = WorkerLogFiles(tmp_path)
    with pytest.raises(InvalidInputError):
        files.tail("w1", stream, 10)
    with pytest.raises(InvalidInputError):
        files.sink("w1").write_line(stream, b"x")
    with pytest.raises(InvalidInputError):
        files.follow("w1", stream)
    assert list(tmp_path.iterdir()) == []


def test_symlinked_worker_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "stdout.log").write_text("secret\n")
    logs = tmp_path / "logs"
    files = WorkerLogFiles(logs)
    (logs / "w1").symlink_to(outside)
    (logs / "w2").symlink_to(logs / "w3")  # Even another worker's folder is out of bounds.
    for worker_id in ["w1", "w2"]:
        with pytest.raises(InvalidInputError):
            files.tail(worker_id, "stdout", 10)
        with pytest.raises(InvalidInputError):
            _write(files, worker_id, "overwrite?")
    assert (outside / "stdout.log").read_text() == "secret\n"
    assert list(outside.iterdir()) == [outside / "stdout.log"]


def test_symlinked_log_files_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret\n")
    logs = tmp_path / "logs"
    files = WorkerLogFiles(logs, max_bytes=100, backups=2)
    (logs / "w1").mkdir()
    (logs / "w1" / "stdout.log").symlink_to(secret)
    with pytest.raises(InvalidInputError):
        files.tail("w1", "stdout", 10)
    with pytest.raises(InvalidInputError):
        _write(files, "w1", "overwrite?")
    # A rotated file is read only when the tail reaches back into it.
    _write(files, "w2", "current")
    (logs / "w2" / "stdout.log.1").symlink_to(secret)
    assert _texts(files.tail("w2", "stdout", 1)) == ["current"]
    with pytest.raises(InvalidInputError):
        files.tail("w2", "stdout", 10)
    assert secret.read_text() == "secret\n"
    files.close_all()


async def _next(follower: object) -> str:
    assert hasattr(follower, "__anext__")
    line: str = await asyncio.wait_for(anext(follower), DEADLINE_S)
    return line


def test_follow_gets_lines_written_after_subscribing(tmp_path: Path) -> None:
    async def scenario() -> None:
        files = WorkerLogFiles(tmp_path)
        _write(files, "w1", "before")
        follower = files.follow("w1", "stdout")
        _write(files, "w1", "other stream", stream="stderr")
        _write(files, "w2", "other worker")
        _write(files, "w1", "first", "second")
        assert _texts([await _next(follower), await _next(follower)]) == ["first", "second"]
        files.close_all()

    asyncio.run(scenario())


def test_follow_works_with_a_writer_on_another_thread(tmp_path: Path) -> None:
    async def scenario() -> None:
        files = WorkerLogFiles(tmp_path)
        follower = files.follow("w1", "stdout")
        await asyncio.to_thread(_write, files, "w1", "from a thread")
        assert _texts([await _next(follower)]) == ["from a thread"]
        files.close_all()

    asyncio.run(scenario())


def test_slow_follower_loses_lines_with_a_marker(tmp_path: Path) -> None:
    async def scenario() -> None:
        files = WorkerLogFiles(tmp_path, follow_queue=3)
        follower = files.follow("w1", "stdout")
        _write(files, "w1", *(f"line-{i}" for i in range(10)))
        got = _texts([await _next(follower) for _ in range(4)])
        assert got[:3] == ["line-0", "line-1", "line-2"]
        assert "7 lines dropped" in got[3]
        _write(files, "w1", "after")
        assert _texts([await _next(follower)]) == ["after"]
        # A gap is marked where it is, even when more lines came after it.
        _write(files, "w1", *(f"more-{i}" for i in range(4)))
        assert _texts([await _next(follower)]) == ["more-0"]
        _write(files, "w1", "more-4")
        got = _texts([await _next(follower) for _ in range(4)])
        assert got[:2] == ["more-1", "more-2"]
        assert "1 lines dropped" in got[2]
        assert got[3] == "more-4"
        # The writer was never held up: every line is in the file.
        assert len(files.tail("w1", "stdout", 100)) == 16
        files.close_all()

    asyncio.run(scenario())


def test_cancelling_the_follower_unsubscribes(tmp_path: Path) -> None:
    async def scenario() -> None:
        files = WorkerLogFiles(tmp_path)
        got_one = asyncio.Event()

        follower = files.follow("w1", "stdout")

        async def consume() -> None:
            async for _ in follower:
                got_one.set()

        task = asyncio.create_task(consume())
        _write(files, "w1", "hello")
        await asyncio.wait_for(got_one.wait(), DEADLINE_S)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert files.follower_count("w1", "stdout") == 0
        files.close_all()

    asyncio.run(scenario())


def test_closed_or_dropped_followers_unsubscribe(tmp_path: Path) -> None:
    async def scenario() -> None:
        files = WorkerLogFiles(tmp_path)
        follower = files.follow("w1", "stdout")
        assert files.follower_count("w1", "stdout") == 1
        await follower.aclose()
        assert files.follower_count("w1", "stdout") == 0
        with pytest.raises(StopAsyncIteration):
            await anext(follower)
        abandoned = files.follow("w1", "stderr")
        del abandoned
        gc.collect()
        assert files.follower_count("w1", "stderr") == 0
        _write(files, "w1", "nobody listens", stream="stderr")
        files.close_all()

    asyncio.run(scenario())

"""The log viewer's streams: both of a job's or a worker's streams on one connection.

A page holds one stream at a time: while its log viewer follows, the page's change
signals travel on the viewer's stream (``with_signals``). Each event carries an id a
browser sends back when it reconnects (Last-Event-ID), so the stream resumes where it
broke, with no line lost or shown twice: for a job's output the byte offsets reached in
each file, for a worker's (timestamped) lines the time of the last line sent on each
stream.
"""

import asyncio
import json
import os
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from pathlib import Path

from corral.master.follow import tail_file, with_keepalives
from corral.master.jobs.output import STREAMS, JobOutput
from corral.master.log_files import WorkerLogFiles

KEEPALIVE_S = 15.0
# Lines a worker stream looks back through to find where a reconnecting reader was.
RESUME_WINDOW = 10_000


def _event(kind: str, event_id: str, data: str) -> str:
    """One server-sent event; data is JSON so it holds any text on one line."""
    return f"event: {kind}\nid: {event_id}\ndata: {json.dumps(data)}\n\n"


def tail_offset(path: Path, lines: int) -> int:
    """Where in the file its last ``lines`` lines start."""
    try:
        end = path.stat().st_size
    except FileNotFoundError:
        return 0
    return max(0, end - sum(len(line) + 1 for line in tail_file(path, lines)))


def _read_from(path: Path, offset: int) -> bytes:
    """The file's bytes from ``offset`` to its end now."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return b""
    with os.fdopen(fd, "rb") as f:
        f.seek(offset)
        return f.read()


def job_offsets(output: JobOutput, job_id: int, last_event_id: str, tail: int) -> list[int]:
    """Where to start in each stream: where the reader was, or ``tail`` lines from the end."""
    try:
        given = [int(part) for part in last_event_id.split(",")]
    except ValueError:
        given = []
    if len(given) == len(STREAMS) and all(n >= 0 for n in given):
        return given
    return [tail_offset(output.path(job_id, stream), tail) for stream in STREAMS]


async def job_output(
    output: JobOutput, job_id: int, offsets: list[int], live: bool
) -> AsyncGenerator[str, None]:
    """The output from ``offsets`` on, then (``live``) what is appended until the job ends."""
    # Subscribing and reading happen in one step of the loop, where output is also
    # written: the files hold exactly what came before, the followers what comes after.
    followers = [output.follow(job_id, stream) for stream in STREAMS] if live else []
    try:
        for i, stream in enumerate(STREAMS):
            data = _read_from(output.path(job_id, stream), offsets[i])
            if data:
                offsets[i] += len(data)
                ids = ",".join(map(str, offsets))
                yield _event(stream, ids, data.decode(errors="replace"))
        async for item in with_keepalives(_merged(followers), KEEPALIVE_S):
            if item is None:
                yield ": keepalive\n\n"
                continue
            i, text = item
            offsets[i] += len(text.encode())
            yield _event(STREAMS[i], ",".join(map(str, offsets)), text)
        yield "event: end\ndata: \n\n"
    finally:
        for follower in followers:
            follower.close()


async def worker_lines(
    files: WorkerLogFiles, worker_id: str, last_event_id: str, tail: int
) -> AsyncGenerator[str, None]:
    """A worker's stdout and stderr lines: the tail or what followed the reader's last ones."""
    followers = [files.follow(worker_id, stream) for stream in STREAMS]
    seen = [*last_event_id.split(","), "", ""][:2] if last_event_id else ["", ""]
    try:
        for i, stream in enumerate(STREAMS):
            lines = files.tail(worker_id, stream, RESUME_WINDOW if seen[i] else tail)
            for line in lines:
                stamp = line.partition(" ")[0]
                if stamp > seen[i]:
                    seen[i] = stamp
                    yield _event(stream, ",".join(seen), line + "\n")
        async for item in with_keepalives(_merged(followers), KEEPALIVE_S):
            if item is None:
                yield ": keepalive\n\n"
                continue
            i, line = item
            seen[i] = max(seen[i], line.partition(" ")[0])
            yield _event(STREAMS[i], ",".join(seen), line + "\n")
    finally:
        for follower in followers:
            follower.close()


async def with_signals(
    log: AsyncGenerator[str, None], signals: AsyncGenerator[str, None]
) -> AsyncGenerator[str, None]:
    """A log's events and the page's change signals, on one stream."""
    async for _, event in _merged([log, signals]):
        yield event


async def _merged(followers: Sequence[AsyncIterator[str]]) -> AsyncIterator[tuple[int, str]]:
    """Items of several followers as they come, tagged with the follower's index."""
    pending = {asyncio.ensure_future(anext(f, None)): i for i, f in enumerate(followers)}
    try:
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                i = pending.pop(task)
                item = task.result()
                if item is not None:
                    pending[asyncio.ensure_future(anext(followers[i], None))] = i
                    yield i, item
    finally:
        for task in pending:
            task.cancel()

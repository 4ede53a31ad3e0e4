"""Server-sent events of a worker's output: the tail first, then new lines as they come."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from corral.master.worker_log_files import WorkerLogFiles

KEEPALIVE_S = 15.0


def _event(line: str) -> str:
    """One SSE message carrying one line."""
    return f"data: {line}\n\n"


async def sse_lines(
    files: WorkerLogFiles, worker_id: str, stream: str, tail: int
) -> AsyncIterator[str]:
    """Yield the last ``tail`` lines, then follow; a comment line keeps idle proxies open."""
    follower = files.follow(worker_id, stream)
    # Subscribe before reading the tail so no line falls between the two.
    next_line: asyncio.Task[str] = asyncio.ensure_future(anext(follower))
    try:
        for line in files.tail(worker_id, stream, tail):
            yield _event(line)
        while True:
            done, _ = await asyncio.wait({next_line}, timeout=KEEPALIVE_S)
            if not done:
                yield ": keepalive\n\n"
                continue
            yield _event(next_line.result())
            next_line = asyncio.ensure_future(anext(follower))
    finally:
        next_line.cancel()
        with contextlib.suppress(BaseException):
            await next_line
        await follower.aclose()  # type: ignore[attr-defined]

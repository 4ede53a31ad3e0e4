"""Server-sent events of a worker's output: the tail first, then new lines as they come."""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from corral.master.follow import Follower, with_keepalives
from corral.master.log_files import MERGED, Key, WorkerLogFiles

KEEPALIVE_S = 15.0


def event_line(at: datetime, level: str, kind: str, message: str) -> str:
    """A lifecycle event as the events stream shows it."""
    return f"{at.isoformat()} {level} {kind}: {message}"


def _event(line: str) -> str:
    """One SSE message carrying one line."""
    return f"data: {line}\n\n"


def sse_lines(files: WorkerLogFiles, worker_id: str, stream: str, tail: int) -> AsyncIterator[str]:
    """Yield the last ``tail`` lines, then follow; a comment line keeps idle proxies open."""
    # Subscribe before reading the tail so no line falls between the two.
    follower = files.follow(worker_id, stream)
    if stream == MERGED:
        lines = files.tail_merged(worker_id, tail)
    else:
        lines = files.tail(worker_id, stream, tail)
    return followed(follower, lines)


async def followed(follower: Follower[Key], lines: list[str]) -> AsyncIterator[str]:
    """The lines already there, then the follower's, as server-sent events."""
    try:
        for line in lines:
            yield _event(line)
        async for new in with_keepalives(follower, KEEPALIVE_S):
            yield ": keepalive\n\n" if new is None else _event(new)
    finally:
        follower.close()


def sse_answer(model: type[BaseModel], ending: str) -> dict[str, Any]:
    """The OpenAPI 200 of a logs route: JSON lines, or an event stream with ``follow=true``."""
    return {
        "model": model,
        "description": "The last lines; with `follow=true` a stream of server-sent events, "
        f"one `data:` line each, {ending}.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }

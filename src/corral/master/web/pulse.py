"""What changed, for open dashboard pages: one small signal per topic, one stream per tab.

One loop, shared by every open page and running only while one is open, compares
cheap fingerprints of what the master holds in memory (workers' runtime, unfinished
jobs) and tells each page which topics moved; the page then fetches the fragments it
shows with ordinary GETs. The loop reads memory only, never the database.
"""

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from corral.master.follow import with_keepalives
from corral.master.services import Services

INTERVAL_S = 0.5
KEEPALIVE_S = 15.0
# Signals held for a page that reads slowly; past that, more would say nothing new.
MAX_QUEUED = 100


def fingerprints(svc: Services) -> dict[str, int]:
    """A number per topic that changes when what the pages show of it does."""
    workers: list[tuple[object, ...]] = []
    for worker_id, sup in svc.lifecycle.supervisors.items():
        rt = sup.runtime
        memory_mib = (rt.memory_bytes or 0) >> 20
        cpu = round(rt.cpu_percent or 0)
        workers.append((worker_id, str(rt.state), str(sup.desired), rt.pid, rt.active_jobs))
        workers.append((rt.cpus_allocated, cpu, memory_mib, rt.restart_count, rt.error_count))
    jobs = tuple((job.id, str(job.state), job.attempt) for job in svc.scheduler.jobs.values())
    return {"workers": hash(tuple(workers)), "jobs": hash((jobs, svc.scheduler.book.last_id))}


class Pulse:
    """Fans the topics that changed out to every open page."""

    def __init__(self, services: Callable[[], Services], interval_s: float = INTERVAL_S) -> None:
        self._services = services
        self._interval_s = interval_s
        self._pages: set[asyncio.Queue[str]] = set()
        self._task: asyncio.Task[None] | None = None
        # Set when the master begins to stop: open streams end, so it need not wait on them.
        self.closing = asyncio.Event()

    @property
    def pages(self) -> int:
        """How many pages listen now."""
        return len(self._pages)

    async def signals(self) -> AsyncGenerator[str, None]:
        """Server-sent events for one page: a "ready" event, then one per change."""
        queue: asyncio.Queue[str] = asyncio.Queue(MAX_QUEUED)
        self._pages.add(queue)
        if self._task is None or self._task.done():
            # The baseline is taken before "ready": what changes after it is signalled, what
            # changed before, the page catches up on when it gets "ready".
            self._task = asyncio.create_task(self._watch(fingerprints(self._services())))
        try:
            yield "retry: 2000\nevent: ready\ndata: \n\n"
            async for topic in with_keepalives(_drain(queue), KEEPALIVE_S):
                yield ": keepalive\n\n" if topic is None else f"event: {topic}\ndata: \n\n"
        finally:
            self._pages.discard(queue)

    async def until_closing(self, items: AsyncGenerator[str, None]) -> AsyncIterator[str]:
        """The events of one dashboard stream, ending when the master begins to stop."""
        stopped = asyncio.ensure_future(self.closing.wait())
        item: asyncio.Future[str | None] | None = None
        try:
            while not self.closing.is_set():
                item = asyncio.ensure_future(anext(items, None))
                await asyncio.wait({item, stopped}, return_when=asyncio.FIRST_COMPLETED)
                value = item.result() if item.done() else None
                if value is None:
                    return
                yield value
        finally:
            stopped.cancel()
            if item is not None and not item.done():
                item.cancel()  # the stream's own clean-up runs (its followers close)
                with contextlib.suppress(asyncio.CancelledError):
                    await item
            else:
                await items.aclose()

    async def close(self) -> None:
        """Stop the loop (the master is shutting down)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self, last: dict[str, int]) -> None:
        """Compare fingerprints while any page listens; signal each topic that moved."""
        while self._pages:
            await asyncio.sleep(self._interval_s)
            now = fingerprints(self._services())
            for topic in [t for t, value in now.items() if last.get(t) != value]:
                for queue in self._pages:
                    if not queue.full():
                        queue.put_nowait(topic)
            last = now


async def _drain(queue: asyncio.Queue[str]) -> AsyncIterator[str]:
    """The topics put in one page's queue."""
    while True:
        yield await queue.get()

"""The master's background tasks, supervised: none may die silently or hang the master.

A periodic step that raises is logged and runs again at its next turn. A long-running
task that ends or raises is logged and started again; one that keeps failing (more
than ``MAX_RESTARTS`` times within ``WINDOW_S``) is fatal: the master is told to stop
and exit non-zero, since running on without, say, its writer would lose work quietly.
"""

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger("corral.master")
MAX_RESTARTS = 5
WINDOW_S = 60.0

Step = Callable[[], Awaitable[object] | object]
Fatal = Callable[[str], None]


class Background:
    """Starts, watches and stops the master's background tasks."""

    def __init__(self, on_fatal: Fatal) -> None:
        self.on_fatal = on_fatal
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def every(self, name: str, interval_s: float, step: Step) -> None:
        """Run ``step`` every ``interval_s`` seconds; an error is logged, not fatal."""
        self.keep(name, lambda: _periodic(name, interval_s, step))

    def keep(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``run()`` for the master's whole life, starting it again when it ends."""
        self._tasks[name] = asyncio.create_task(self._supervise(name, run), name=name)

    async def stop(self) -> None:
        """Cancel every task and wait for them to end."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()

    async def _supervise(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        failures: list[float] = []
        while True:
            try:
                await run()
                why = "ended"
            except Exception as exc:
                log.exception("background task %s failed", name)
                why = f"failed: {exc!r}"
            now = time.monotonic()
            failures = [t for t in failures if now - t < WINDOW_S] + [now]
            if len(failures) > MAX_RESTARTS:
                self.on_fatal(
                    f"background task {name} {why} {len(failures)} times in {WINDOW_S:g} s"
                )
                return
            log.error("background task %s %s: starting it again", name, why)


async def _periodic(name: str, interval_s: float, step: Step) -> None:
    """The loop of one periodic step."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            result = step()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("%s failed; it runs again in %.3g s", name, interval_s)

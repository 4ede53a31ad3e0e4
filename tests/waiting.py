"""Waiting on conditions with a deadline: the tests' only way to synchronise."""

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

TIMEOUT_S = 10.0
INTERVAL_S = 0.01


def wait_for(
    probe: Callable[[], T | None],
    timeout: float = TIMEOUT_S,
    interval: float = INTERVAL_S,
    what: str = "",
) -> T:
    """Call ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what or repr(probe), last)
        time.sleep(interval)


async def wait_for_async(
    probe: Callable[[], T | None],
    timeout_s: float = TIMEOUT_S,
    interval: float = INTERVAL_S,
    what: str = "",
) -> T:
    """``wait_for`` inside an event loop: the loop runs on while the probe is false."""
    deadline = time.monotonic() + timeout_s
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise _timed_out(timeout_s, what or repr(probe), last)
        # Polled: /proc, other processes and database rows offer nothing to await.
        await asyncio.sleep(interval)


def _timed_out(timeout: float, what: str, last: object) -> AssertionError:
    return AssertionError(f"timed out after {timeout} s waiting for {what}: {last!r}")

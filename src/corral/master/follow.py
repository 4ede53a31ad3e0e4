"""Following a stored stream: its last lines from the file, then what is appended, live.

One mechanism serves job output and worker logs. A follower holds a bounded queue:
a reader that falls behind loses items (and is told how many), never the master's
memory; the stored file always has everything.
"""

import asyncio
import contextlib
import os
import threading
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Hashable
from pathlib import Path
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
_TAIL_BLOCK = 64 * 1024
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC
_END = object()


def tail_file(path: Path, n: int) -> list[bytes]:
    """The last ``n`` lines of one file, reading blocks backwards from its end."""
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except FileNotFoundError:
        return []
    with os.fdopen(fd, "rb") as f:
        pos = f.seek(0, os.SEEK_END)
        blocks: list[bytes] = []
        newlines = 0
        while pos > 0 and newlines <= n:
            size = min(_TAIL_BLOCK, pos)
            pos -= size
            f.seek(pos)
            block = f.read(size)
            blocks.append(block)
            newlines += block.count(b"\n")
    lines = b"".join(reversed(blocks)).split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    if pos > 0:
        lines = lines[1:]  # The first one may have been cut by the block boundary.
    return lines[-n:]


class Follower(Generic[K]):
    """What is appended to one stream from now on, as an async iterator of text."""

    def __init__(
        self, owner: "Followers[K]", key: K, max_queued: int, marker: Callable[[int], str]
    ) -> None:
        self._owner = owner
        self._key = key
        self._max_queued = max_queued
        self._marker = marker
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._dropped = 0
        self._closed = False
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def __aiter__(self) -> "Follower[K]":
        return self

    async def __anext__(self) -> str:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        if self._dropped and self._queue.empty():
            return self._take_marker()  # The gap comes right after what was queued.
        try:
            item = await self._queue.get()
        except asyncio.CancelledError:
            self.close()
            raise
        if item is _END:
            self.close()
            raise StopAsyncIteration
        assert isinstance(item, str)
        return item

    async def aclose(self) -> None:
        """Stop following (async form, as for async generators)."""
        self.close()

    def close(self) -> None:
        """Stop following: nothing more is queued."""
        if not self._closed:
            self._closed = True
            self._owner.unsubscribe(self._key, self)

    def offer(self, item: object) -> None:
        """Queue one item (text, or the end), from any thread; when full, count it."""
        if threading.get_ident() != self._thread:
            self._loop.call_soon_threadsafe(self.offer, item)
            return
        if self._closed:
            return
        if item is not _END and self._queue.qsize() >= self._max_queued:
            self._dropped += 1
            return
        if self._dropped:
            self._queue.put_nowait(self._take_marker())
        self._queue.put_nowait(item)

    def _take_marker(self) -> str:
        text = self._marker(self._dropped)
        self._dropped = 0
        return text


class Followers(Generic[K]):
    """The followers of every stream, by key."""

    def __init__(self, max_queued: int, marker: Callable[[int], str]) -> None:
        self._max_queued = max_queued
        self._marker = marker
        # Weak: a follower its reader dropped without closing goes away by itself.
        self._by_key: defaultdict[K, weakref.WeakSet[Follower[K]]] = defaultdict(weakref.WeakSet)

    def subscribe(self, key: K) -> Follower[K]:
        """A new follower of ``key``; call from the event loop."""
        follower = Follower(self, key, self._max_queued, self._marker)
        self._by_key[key].add(follower)
        return follower

    def unsubscribe(self, key: K, follower: Follower[K]) -> None:
        """Forget one follower."""
        followers = self._by_key.get(key)
        if followers is not None:
            followers.discard(follower)
            if not followers:
                del self._by_key[key]

    def offer(self, key: K, text: str) -> None:
        """Hand new text to every follower of ``key``."""
        for follower in list(self._by_key.get(key, ())):
            follower.offer(text)

    def end(self, key: K) -> None:
        """The stream is complete: its followers stop after what they hold."""
        for follower in list(self._by_key.pop(key, ())):
            follower.offer(_END)

    def count(self, key: K) -> int:
        """How many followers ``key`` has now."""
        return len(self._by_key.get(key, ()))


T = TypeVar("T")


async def with_keepalives(items: AsyncIterator[T], every_s: float) -> AsyncIterator[T | None]:
    """The items of ``items``, with None whenever ``every_s`` pass without one."""
    pending = asyncio.ensure_future(anext(items, _END))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=every_s)
            if not done:
                yield None
                continue
            item = pending.result()
            if item is _END:
                return
            pending = asyncio.ensure_future(anext(items, _END))
            yield item  # type: ignore[misc]
    finally:
        pending.cancel()
        with contextlib.suppress(BaseException):
            await pending

"""The master's bridge to the store: every query runs on one dedicated thread."""

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine

from corral.db.engine import make_engine
from corral.db.migrate import upgrade
from corral.store.configs import ConfigStore
from corral.store.jobs import JobStore
from corral.store.runtime import RuntimeStore
from corral.store.worker_logs import WorkerLogStore

P = ParamSpec("P")
T = TypeVar("T")


class Database:
    """The stores plus a single-thread executor.

    One thread keeps the master the single writer, so SQLite never sees write
    contention, and calls run in the order they were made.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.configs = ConfigStore(engine)
        self.runtime = RuntimeStore(engine)
        self.logs = WorkerLogStore(engine)
        self.jobs = JobStore(engine)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="corral-db")

    @classmethod
    def open(cls, url: str) -> "Database":
        """Connect, migrate to the newest schema, and return the database."""
        engine = make_engine(url)
        upgrade(engine)
        return cls(engine)

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a store call on the database thread and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        """Finish queued calls, then release connections."""
        self._executor.shutdown(wait=True)
        self.engine.dispose()

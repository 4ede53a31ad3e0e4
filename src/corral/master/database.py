"""The master's bridge to the store: one database thread, deadlines, and the health it learns.

Every query and every commit runs on one dedicated thread, never on the event loop,
so a database that is slow, locked, full or gone cannot stall heartbeats or the API.
Requests wait for the database only up to a deadline and then answer 503: a call
that has not started by then is withdrawn, so nothing happens behind the 503. What
the thread learns (a call failed for want of a database, or succeeded) is the
database's health, which /health reports and which makes writes fail fast.
"""

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ParamSpec, Protocol, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from corral.db.engine import make_engine
from corral.db.migrate import upgrade
from corral.errors import AnotherMasterError, UnavailableError
from corral.master.statement_watchdog import StatementWatchdog
from corral.sealing import KeyRing
from corral.store.alert_rules import AlertRuleStore
from corral.store.audit import AuditStore
from corral.store.configs import ConfigStore
from corral.store.history import HistoryStore
from corral.store.jobs import JobStore
from corral.store.runtime import RuntimeStore
from corral.store.webhooks import WebhookStore
from corral.store.worker_logs import WorkerLogStore

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("corral.master")
# How long a request waits for the database before it answers 503.
REQUEST_DEADLINE_S = 0.8


class ClaimInDoubt(Exception):
    """The master's claim on the database is being confirmed after a lost connection."""


class Fence(Protocol):
    """The master's claim on a shared database (see master.database_lock)."""

    held: bool

    def suspect(self) -> None:
        """The database was away: the claim must be confirmed again before any call."""


def is_outage(exc: BaseException) -> bool:
    """Whether an error means the database cannot be used now, not that the call was wrong."""
    if isinstance(exc, OperationalError | PoolTimeout | AnotherMasterError | ClaimInDoubt):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@dataclass
class Health:
    """Whether the database answered its last call, and since when it has not."""

    ok: bool = True
    failing_since: float | None = None  # unix time of the first failure in a row
    error: str | None = None

    def failed(self, exc: BaseException) -> None:
        """Record a call that failed for want of a database."""
        if self.ok:
            log.warning("database unavailable: %s", short_error(exc))
            self.failing_since = time.time()
        self.ok, self.error = False, short_error(exc)

    def succeeded(self) -> None:
        """Record a call that went through."""
        if not self.ok:
            log.warning("database available again after %.1f s", self.down_for())
        self.ok, self.failing_since, self.error = True, None, None

    def down_for(self) -> float:
        """Seconds since the database stopped answering (0 while it answers)."""
        return 0.0 if self.failing_since is None else time.time() - self.failing_since

    def unavailable(self) -> UnavailableError:
        """The error a request gets while the database is down."""
        return UnavailableError(f"database unavailable: {self.error}")


def short_error(exc: BaseException) -> str:
    """The first line of a driver's error, without the SQL it carried."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


class Database:
    """The stores, the database thread, and the health of the database."""

    def __init__(self, engine: Engine, ring: KeyRing, fence: Fence | None = None) -> None:
        self.engine = engine
        self.fence = fence
        self.ring = ring
        self.configs = ConfigStore(engine, ring)
        self.runtime = RuntimeStore(engine)
        self.logs = WorkerLogStore(engine)
        self.jobs = JobStore(engine, ring)
        self.audit = AuditStore(engine)
        self.history = HistoryStore(engine)
        self.alert_rules = AlertRuleStore(engine)
        self.webhooks = WebhookStore(engine, ring)
        self.health = Health()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="corral-db")
        self.watchdog = StatementWatchdog(engine)

    @classmethod
    def open(cls, url: str, ring: KeyRing, fence: Fence | None = None) -> "Database":
        """Connect, migrate to the newest schema, and return the database; ``ring`` seals.

        With a ``fence``, no call runs while the master's claim on the database is in doubt.
        """
        engine = make_engine(url)
        upgrade(engine)
        return cls(engine, ring, fence)

    def check_available(self) -> None:
        """Raise UnavailableError at once while the database is known to be down."""
        if not self.health.ok:
            raise self.health.unavailable()

    async def run(
        self,
        fn: Callable[P, T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run a store call on the database thread, with no deadline (internal work)."""
        future = self._executor.submit(self._call, functools.partial(fn, *args, **kwargs))
        return await asyncio.wrap_future(future)

    async def read(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """A request's query: 503 at its deadline (a late answer is thrown away)."""
        return await self._within(functools.partial(fn, *args, **kwargs), write=False)

    async def write(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """A request's change: 503 unless it starts before its deadline; once begun, awaited."""
        self.check_available()
        return await self._within(functools.partial(fn, *args, **kwargs), write=True)

    async def _within(self, call: Callable[[], T], write: bool) -> T:
        future: Future[T] = self._executor.submit(self._call, call)
        wrapped = asyncio.wrap_future(future)
        done, _ = await asyncio.wait({wrapped}, timeout=REQUEST_DEADLINE_S)
        if done:
            return wrapped.result()
        if future.cancel():
            wrapped.cancel()
            raise UnavailableError("database busy: the request was not started in time")
        if write:
            # Started: the answer must say whether it happened. Statement and lock
            # timeouts (and the watchdog) bound this wait.
            return await wrapped
        wrapped.add_done_callback(_ignore_result)
        raise UnavailableError("database too slow: no answer in time")

    def _call(self, call: Callable[[], T]) -> T:
        """On the database thread: run, time it for the watchdog, learn the health."""
        with self.watchdog.watching():
            try:
                if self.fence is not None and not self.fence.held:
                    raise ClaimInDoubt("the database lock is being confirmed after an outage")
                result = call()
            except Exception as exc:
                if is_outage(exc):
                    if self.fence is not None:
                        self.fence.suspect()
                    self.health.failed(exc)
                    raise self.health.unavailable() from exc
                raise
        self.health.succeeded()
        return result

    def close(self) -> None:
        """Finish queued calls, then release connections."""
        self._executor.shutdown(wait=True)
        self.watchdog.close()
        self.engine.dispose()


def _ignore_result(future: "asyncio.Future[Any]") -> None:
    """Retrieve an abandoned read's outcome so that asyncio does not report it."""
    if not future.cancelled():
        future.exception()

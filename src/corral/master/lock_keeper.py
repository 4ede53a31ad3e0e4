"""Keeps the master's PostgreSQL lock while it runs: no two masters ever write at once.

The lock's session can end while the master lives (a server restart, a terminated
backend, a network cut). From then until the lock is confirmed again, the master's
database calls are refused like an outage's (see master.database). The keeper checks
the session every ``CHECK_EVERY_S``, takes the lock again when it is free, and stops
the master when another one has it. A new connection of the master's engine means
the server may have restarted: the lock is confirmed before that connection is used.
"""

import asyncio
import logging
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import SQLAlchemyError

from corral.errors import AnotherMasterError
from corral.master.background import Fatal
from corral.master.database_lock import PostgresLock

log = logging.getLogger("corral.master")
CHECK_EVERY_S = 1.0
# Past the client's own timeouts (connect, then a statement): the check is stuck.
CHECK_DEADLINE_S = 10.0


class LockKeeper:
    """Checks the lock, takes it again, or stops the master when another has it."""

    def __init__(self, lock: PostgresLock, on_fatal: Fatal) -> None:
        self.lock = lock
        self.on_fatal = on_fatal
        self._lost = False
        self._taken = False

    def guard(self, engine: Engine) -> None:
        """Confirm the lock on every new connection of ``engine`` before it is used."""
        event.listen(engine, "connect", self._on_connect)

    def _on_connect(self, _dbapi_conn: Any, _record: Any) -> None:
        # On the database thread: a failure here fails the call like an outage.
        self.lock.suspect()
        self.lock.verify()

    async def step(self) -> None:
        """One check; a stuck one has its session cut, which fails it."""
        if self._taken:
            return  # the master is stopping already
        check = asyncio.ensure_future(asyncio.to_thread(self.lock.verify))
        done, _ = await asyncio.wait({check}, timeout=CHECK_DEADLINE_S)
        if not done:
            self.lock.suspect()
            self.lock.cut()
        try:
            await check
        except AnotherMasterError as exc:
            self._taken = True
            self.on_fatal(f"the database lock was lost and {exc}")
        except SQLAlchemyError as exc:
            if not self._lost:
                log.warning("database lock not confirmed (%s): retrying", type(exc).__name__)
            self._lost = True
        else:
            self._lost = False

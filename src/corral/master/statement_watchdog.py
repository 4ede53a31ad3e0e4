"""Cuts off a PostgreSQL connection whose call outlives every timeout the server should keep.

Statement and lock timeouts are enforced by the server: a host that accepts the
connection and then never answers (a black hole, a frozen VM) enforces nothing, and
the database thread would wait forever. This watchdog sees the thread's current call
run past a limit and shuts the sockets of the connections that thread holds: the
blocked driver call fails at once and the master carries on as with any outage.
"""

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, event

from corral.db.engine import PG_CONNECT_TIMEOUT_S, PG_STATEMENT_TIMEOUT_MS

log = logging.getLogger("corral.master")
# Past every timeout the server itself applies, with a margin.
LIMIT_S = PG_STATEMENT_TIMEOUT_MS / 1000 + PG_CONNECT_TIMEOUT_S + 2.0
CHECK_EVERY_S = 0.5


class StatementWatchdog:
    """Watches the calls of one thread; does nothing on engines without sockets."""

    def __init__(self, engine: Engine, limit_s: float = LIMIT_S) -> None:
        self.limit_s = limit_s
        self.cuts = 0
        self._thread_id: int | None = None
        self._busy_since: float | None = None
        self._held: set[Any] = set()  # DBAPI connections the watched thread has checked out
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if engine.dialect.name == "postgresql":
            event.listen(engine, "checkout", self._checked_out)
            event.listen(engine, "checkin", self._checked_in)
            self._thread = threading.Thread(target=self._loop, name="corral-db-watchdog")
            self._thread.daemon = True
            self._thread.start()

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Time one call of the current thread (the database thread)."""
        with self._lock:
            self._thread_id = threading.get_ident()
            self._busy_since = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._busy_since = None

    def close(self) -> None:
        """Stop watching."""
        self._stop.set()

    def _checked_out(self, dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if threading.get_ident() == self._thread_id:
            with self._lock:
                self._held.add(dbapi_conn)

    def _checked_in(self, dbapi_conn: Any, _record: Any) -> None:
        with self._lock:
            self._held.discard(dbapi_conn)

    def _loop(self) -> None:
        while not self._stop.wait(CHECK_EVERY_S):
            with self._lock:
                since = self._busy_since
                held = list(self._held)
                overdue = since is not None and time.monotonic() - since > self.limit_s
                if overdue:
                    self._busy_since = time.monotonic()  # one cut per limit, not per check
            if overdue:
                self._cut(held)

    def _cut(self, held: list[Any]) -> None:
        """Shut the sockets under the blocked call; its driver raises a connection error."""
        self.cuts += 1
        log.warning("database call stuck for %.0f s: cutting its connection", self.limit_s)
        for conn in held:
            shut_socket(conn)


def shut_socket(dbapi_conn: Any) -> None:
    """Shut a psycopg connection's socket: a call blocked on it fails at once."""
    with contextlib.suppress(Exception):
        fd = dbapi_conn.pgconn.socket
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)

"""One master per PostgreSQL database: a session-level advisory lock.

The lock lives on a connection of its own, kept open and idle for the master's
life; the server drops it with the session when the master exits or dies.
Advisory locks belong to the database they are taken in, so one key serves all.
A session can also end under a living master (a server restart, a terminated
backend, a network cut): the lock is then gone, and ``verify`` takes it again or
learns that another master has it (see master.lock_keeper).
"""

import contextlib
import logging
import threading

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from corral.db.engine import normalise_url, pg_connect_args
from corral.errors import AnotherMasterError, MasterStartError
from corral.master.statement_watchdog import shut_socket

log = logging.getLogger("corral.master")

LOCK_KEY = int.from_bytes(b"corral", "big")
# PostgreSQL keeps the first 63 bytes of an application name.
NAME_MAX = 63
# The server probes the idle lock connection after 10 s of silence, then every 5 s,
# 3 times: the lock of a master whose host vanished is freed within about 25 s, not
# after the two hours of the usual system default.
KEEPALIVES = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
ALIVE = text("SELECT 1")
TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
# A bigint key shows in pg_locks as (classid, objid) = (high, low) 32 bits, objsubid 1.
HOLDER = text(
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND l.classid::bigint = :high AND l.objid::bigint = :low"
)


def is_postgresql(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return make_url(normalise_url(url)).get_backend_name() == "postgresql"


class PostgresLock:
    """Holds this master's claim on its database until ``release()`` or the process ends.

    ``held`` is False from the moment the lock may have been lost until ``verify``
    has it again: the master's database calls wait for it (see master.database).
    """

    def __init__(self, url: str, holder: str) -> None:
        self._where = make_url(url).render_as_string(hide_password=True)
        # The holder's name travels as the session's application name, for pg_stat_activity;
        # the client's own timeouts bound every check of a lock whose server went silent.
        args = pg_connect_args()
        args.update(application_name=holder[:NAME_MAX], options=KEEPALIVES)
        self._engine = create_engine(normalise_url(url), poolclass=NullPool, connect_args=args)
        self._mutex = threading.Lock()
        self._conn: Connection | None = None
        self.held = False
        try:
            self._connect_and_take()
        except SQLAlchemyError as exc:
            self._engine.dispose()
            reason = getattr(exc, "orig", None) or exc
            raise MasterStartError(f"cannot lock the database {self._where}: {reason}") from None
        except AnotherMasterError:
            self._engine.dispose()
            raise

    def _connect_and_take(self) -> None:
        """Open a new session and take the lock in it, or raise AnotherMasterError."""
        self._conn = self._engine.connect()
        owner = self._take(self._conn)
        if owner is not None:
            self._close()
            raise AnotherMasterError(
                f"another corral master ({owner}) is using the database {self._where}"
            )
        self.held = True

    @staticmethod
    def _take(conn: Connection) -> str | None:
        """Try the lock; None if taken, else the name of the session holding it."""
        got = conn.execute(TRY_LOCK, {"key": LOCK_KEY}).scalar_one()
        owner = None
        if not got:
            key = {"high": LOCK_KEY >> 32, "low": LOCK_KEY & 0xFFFFFFFF}
            owner = conn.execute(HOLDER, key).scalar() or "holder unknown"
        conn.commit()  # a session lock outlives the transaction; leave none open
        return owner

    def suspect(self) -> None:
        """The database was away: the lock may have gone with the session."""
        self.held = False

    def verify(self) -> None:
        """Make sure the lock is still ours: its session answers, or a new one takes it.

        Raises AnotherMasterError when another master took it meanwhile, and the
        driver's error while the database cannot be reached.
        """
        with self._mutex:
            if self._session_alive():
                self.held = True
                return
            self.held = False
            self._close()
            self._connect_and_take()
            log.warning("database lock taken again after its session was lost")

    def _session_alive(self) -> bool:
        """Whether the lock's session still answers (then it still holds the lock)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(ALIVE)
            self._conn.commit()
        except SQLAlchemyError:
            return False
        return True

    def cut(self) -> None:
        """Shut the session's socket under a check that hangs: the check fails at once."""
        conn = self._conn
        if conn is not None:
            shut_socket(conn.connection.dbapi_connection)

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.close()
            self._conn = None

    def release(self) -> None:
        """Close the session, which frees the lock."""
        with self._mutex:
            self.held = False
            self._close()
        self._engine.dispose()

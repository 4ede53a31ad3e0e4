"""One master per PostgreSQL database: a session-level advisory lock.

The lock lives on a connection of its own, kept open and idle for the master's
life; the server drops it with the session when the master exits or dies.
Advisory locks belong to the database they are taken in, so one key serves all.
"""

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from corral.db.engine import normalise_url
from corral.errors import AnotherMasterError, MasterStartError

LOCK_KEY = int.from_bytes(b"corral", "big")
# PostgreSQL keeps the first 63 bytes of an application name.
NAME_MAX = 63
# The server probes the idle lock connection after 10 s of silence, then every 5 s,
# 3 times: the lock of a master whose host vanished is freed within about 25 s, not
# after the two hours of the usual system default.
KEEPALIVES = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
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
    """Holds this master's claim on its database until ``release()`` or the process ends."""

    def __init__(self, url: str, holder: str) -> None:
        where = make_url(url).render_as_string(hide_password=True)
        # The holder's name travels as the session's application name, for pg_stat_activity.
        args = {"application_name": holder[:NAME_MAX], "options": KEEPALIVES}
        self._engine = create_engine(normalise_url(url), poolclass=NullPool, connect_args=args)
        try:
            self._conn = self._engine.connect()
            owner = self._take(self._conn)
        except SQLAlchemyError as exc:
            self._engine.dispose()
            reason = getattr(exc, "orig", None) or exc
            raise MasterStartError(f"cannot lock the database {where}: {reason}") from None
        if owner is not None:
            self.release()
            raise AnotherMasterError(
                f"another corral master ({owner}) is using the database {where}"
            )

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

    def release(self) -> None:
        """Close the session, which frees the lock."""
        self._conn.close()
        self._engine.dispose()

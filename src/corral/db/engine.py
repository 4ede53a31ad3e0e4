"""Engine creation: SQLite tuned for one writer, or PostgreSQL by URL, both with timeouts.

No database call may hang the master: SQLite gives up on a lock after a second, and
PostgreSQL gets connect, statement and lock timeouts plus TCP keepalives, so a server
that stops answering is noticed within seconds (a black-holed host is cut off by the
master's statement watchdog, see master.database).
"""

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url

SQLITE_BUSY_TIMEOUT_MS = 1000
PG_CONNECT_TIMEOUT_S = 3
PG_STATEMENT_TIMEOUT_MS = 5000
PG_LOCK_TIMEOUT_MS = 3000


def sqlite_url(data_dir: Path) -> str:
    """The URL of the embedded database inside a data folder."""
    return f"sqlite:///{(data_dir / 'corral.db').resolve()}"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another backend or an in-memory database)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def normalise_url(url: str) -> str:
    """Pick the psycopg 3 driver for plain ``postgresql://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _tune_sqlite(dbapi_conn: Any, _record: Any) -> None:
    """WAL for concurrent readers, NORMAL sync (safe with WAL), FK enforcement."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def pg_connect_args() -> dict[str, Any]:
    """libpq settings that bound every wait on the server or the network."""
    options = f"-c statement_timeout={PG_STATEMENT_TIMEOUT_MS} -c lock_timeout={PG_LOCK_TIMEOUT_MS}"
    return {
        "connect_timeout": PG_CONNECT_TIMEOUT_S,
        "options": options,
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "tcp_user_timeout": PG_STATEMENT_TIMEOUT_MS,
    }


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the settings corral relies on."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=PG_CONNECT_TIMEOUT_S,
        connect_args=pg_connect_args(),
    )

"""A master whose PostgreSQL lock session ends: it takes the lock again, or, when another
master took it meanwhile, it stops; two masters never both go on with one database."""

from collections.abc import Iterator

import psycopg
import pytest

from corral.errors import AnotherMasterError
from corral.master.database_lock import LOCK_KEY, PostgresLock
from master_process import MasterFactory, MasterProcess
from pgserver import PgServer
from waiting import wait_for

pytestmark = pytest.mark.postgres
# The sessions holding corral's lock in the current database, by application name.
HOLDERS = (
    "SELECT a.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@pytest.fixture
def database(pg_server: PgServer) -> Iterator[str]:
    """The URL of a new database, dropped after the test."""
    name = pg_server.create_database()
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop_database(name)


def holders(admin: psycopg.Connection) -> list[tuple[int, str]]:
    """The sessions holding the lock now: (backend pid, application name)."""
    return [(pid, name) for pid, name in admin.execute(HOLDERS).fetchall()]


def end_lock_session(admin: psycopg.Connection, master: MasterProcess) -> int:
    """Terminate the master's lock session, as a server restart or a DBA would; its pid."""
    assert master.proc is not None
    (backend, name), *others = holders(admin)
    assert not others and name.startswith(f"pid {master.proc.pid},"), holders(admin)
    admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
    return backend


def test_a_lost_lock_is_taken_again_and_the_master_goes_on(
    start_master: MasterFactory, database: str
) -> None:
    master = start_master(database_url=database)
    with psycopg.connect(database, autocommit=True) as admin:
        ended = end_lock_session(admin, master)
        held = wait_for(
            lambda: [h for h in holders(admin) if h[0] != ended],
            timeout=15,
            what="the master's lock taken again",
        )
    assert master.proc is not None
    assert held[0][1].startswith(f"pid {master.proc.pid},"), held
    with pytest.raises(AnotherMasterError):
        PostgresLock(database, "a second master")
    created = master.api.post("/jobs", json={"command": ["true"]})
    assert created.status_code == 201, created.text
    assert master.proc.poll() is None


def test_a_master_whose_lock_another_took_stops(start_master: MasterFactory, database: str) -> None:
    master = start_master(database_url=database)
    master.create_worker("w1", cpus=1)
    master.wait_state("w1", "running")
    with psycopg.connect(database, autocommit=True) as admin:
        end_lock_session(admin, master)
        # Waits for the ended session to let go, then holds the lock as a second master would.
        admin.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        proc = master.proc
        assert proc is not None
        wait_for(lambda: proc.poll() is not None, timeout=60, what="the master to stop")
    assert proc.returncode == 1
    said = master.output.read_text(errors="replace")
    assert "the database lock was lost and another corral master" in said, said

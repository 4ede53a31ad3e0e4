"""Shared fixtures: a throwaway PostgreSQL cluster and a database URL for each backend."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.db.engine import sqlite_url
from job_cgroups import sweep_job_cgroups
from leftovers import Leftovers
from pgserver import (
    DISABLED_REASON,
    INSTALL_HINT,
    PgServer,
    PgServerError,
    find_bindir,
    postgres_disabled,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the server, so ``-m "not postgres"`` leaves it out."""
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip PostgreSQL tests only when asked to; missing binaries fail them instead."""
    if item.get_closest_marker("postgres") and postgres_disabled():
        pytest.skip(DISABLED_REASON)


@pytest.fixture(scope="session", autouse=True)
def _job_cgroups_swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session, no job cgroup of a test's worker is left on the host."""
    yield
    sweep_job_cgroups(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One cluster per test process (so per xdist worker), stopped at session end."""
    if postgres_disabled():
        pytest.skip(DISABLED_REASON)
    bindir = find_bindir()
    if bindir is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    server = PgServer.create(bindir, label=os.environ.get("PYTEST_XDIST_WORKER", "main") + "-")
    try:
        server.start()
    except PgServerError as exc:
        server.stop()
        pytest.fail(f"could not start the test PostgreSQL server: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name = pg_server.create_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend in turn: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def leftovers() -> Iterator[Leftovers]:
    """Processes to SIGKILL at teardown, should a failing test leave them alive."""
    noted = Leftovers()
    yield noted
    noted.kill_all()

"""The claims of one master: its folders (flock) and its PostgreSQL database (advisory lock)."""

import os
from pathlib import Path

import pytest

from corral.errors import AnotherMasterError, MasterStartError
from corral.master.database_lock import PostgresLock
from corral.master.single_master import FolderLock, claim, holder_name
from corral.settings import MasterSettings
from master_process import refusing_port
from pgserver import PgServer


def test_a_held_folder_is_refused_with_its_holder_named(tmp_path: Path) -> None:
    first = FolderLock(tmp_path / "data", "the data folder")
    first.name_holder("pid 1, http://127.0.0.1:1, on here")
    with pytest.raises(AnotherMasterError) as refused:
        FolderLock(tmp_path / "data", "the data folder")
    assert str(refused.value) == (
        f"another corral master (pid 1, http://127.0.0.1:1, on here)"
        f" is using the data folder {tmp_path / 'data'}"
    )
    first.release()
    FolderLock(tmp_path / "data", "the data folder").release()


def test_a_new_data_folder_is_closed_to_others(tmp_path: Path) -> None:
    FolderLock(tmp_path / "data", "the data folder").release()
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "data" / "master.lock").stat().st_mode & 0o777 == 0o600


def test_a_sqlite_database_elsewhere_claims_its_folder_too(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'db' / 'corral.db'}"
    (tmp_path / "db").mkdir()
    settings = MasterSettings(data_dir=tmp_path / "one", database_url=db_url, port=0)
    with claim(settings) as (bound, sock, _):
        assert bound.port == sock.getsockname()[1] != 0
        assert holder_name(bound.url) in (tmp_path / "db" / "master.lock").read_text()
        other = MasterSettings(data_dir=tmp_path / "two", database_url=db_url, port=0)
        with (
            pytest.raises(AnotherMasterError, match="the folder of its SQLite database"),
            claim(other),
        ):
            pass
        assert not (tmp_path / "two" / "corral.db").exists()
    with claim(other):
        pass  # released with the first claim


@pytest.mark.postgres
def test_one_master_per_postgresql_database(pg_server: PgServer) -> None:
    one, two = pg_server.create_database(), pg_server.create_database()
    try:
        first = PostgresLock(pg_server.url(one), "pid 1, http://127.0.0.1:1, on here")
        PostgresLock(pg_server.url(two), "another database: no clash").release()
        with pytest.raises(AnotherMasterError) as refused:
            PostgresLock(pg_server.url(one), "second")
        assert "(pid 1, http://127.0.0.1:1, on here)" in str(refused.value)
        assert f"/{one}" in str(refused.value)
        first.release()
        PostgresLock(pg_server.url(one), "after the first").release()
    finally:
        pg_server.drop_database(one)
        pg_server.drop_database(two)


def test_an_unreachable_database_is_a_clear_refusal_without_its_password() -> None:
    with refusing_port() as port, pytest.raises(MasterStartError) as refused:
        PostgresLock(f"postgresql://corral:s3cret-pw@127.0.0.1:{port}/corral", "pid 1")
    message = str(refused.value)
    assert message.startswith("cannot lock the database postgresql://corral:***@127.0.0.1:")
    assert "s3cret-pw" not in message


def test_the_claim_is_not_inherited(tmp_path: Path) -> None:
    with claim(MasterSettings(data_dir=tmp_path / "data", port=0)) as (_, sock, _lock):
        assert not sock.get_inheritable()
        lock_fds = [
            fd
            for fd in os.listdir("/proc/self/fd")
            if os.path.realpath(f"/proc/self/fd/{fd}").endswith("master.lock")
        ]
        assert lock_fds and not any(os.get_inheritable(int(fd)) for fd in lock_fds)

"""Secrets in the stores: sealed before the database, opened on read, sealed again by a pass."""

from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update

from corral.db import models
from corral.db.engine import make_engine
from corral.db.migrate import upgrade
from corral.domain.jobs import Job, JobSpec
from corral.domain.workers import WorkerConfig
from corral.sealing import DataKey, KeyRing, SealError
from corral.store.configs import ConfigStore
from corral.store.jobs import JobStore
from corral.store.resealing import reseal, reseal_all
from corral.store.secret_env import UnopenedSecrets, unopened
from pgserver import PgServer
from store.test_job_store import T0

SECRET = "v3ry-s3cret-7f1c"


def raw_env(engine: Engine, table: Any, key: Any) -> dict[str, str]:
    """The secret_env column of one row, as stored."""
    column = table.c.worker_id if table is models.worker_configs else table.c.id
    with engine.connect() as conn:
        value: dict[str, str] = conn.execute(
            select(table.c.secret_env).where(column == key)
        ).scalar_one()
    return value


def set_raw_env(engine: Engine, table: Any, key: Any, env: dict[str, str]) -> None:
    """Overwrite one row's secret_env column, as an earlier release or a stranger would."""
    column = table.c.worker_id if table is models.worker_configs else table.c.id
    with engine.begin() as conn:
        conn.execute(update(table).where(column == key).values(secret_env=env))


def job(job_id: int, **secret_env: str) -> Job:
    """An unsaved pending job with these secrets."""
    spec = JobSpec(command=["true"], secret_env=secret_env)
    return Job(id=job_id, spec=spec, submitted_at=T0, updated_at=T0)


@pytest.fixture
def stores(engine: Engine, ring: KeyRing) -> tuple[ConfigStore, JobStore]:
    return ConfigStore(engine, ring), JobStore(engine, ring)


def test_values_are_sealed_to_their_row_and_opened_on_read(
    engine: Engine, ring: KeyRing, stores: tuple[ConfigStore, JobStore]
) -> None:
    configs, jobs = stores
    created = configs.create(WorkerConfig("w1", "One", secret_env={"API_KEY": SECRET}))
    jobs.insert([job(1, TOKEN=SECRET, EMPTY="")])
    assert created.secret_env == {"API_KEY": SECRET}
    assert jobs.get(1).spec.secret_env == {"TOKEN": SECRET, "EMPTY": ""}
    stored = raw_env(engine, models.worker_configs, "w1") | raw_env(engine, models.jobs, 1)
    assert sorted(stored) == ["API_KEY", "EMPTY", "TOKEN"], "names stay readable"
    prefix = f"sealed:1:{ring.current.key_id}:"
    assert all(value.startswith(prefix) for value in stored.values())
    assert SECRET not in str(stored)


def test_a_change_of_secrets_is_sealed_and_other_changes_keep_them(
    engine: Engine, stores: tuple[ConfigStore, JobStore]
) -> None:
    configs, _ = stores
    configs.create(WorkerConfig("w1", "One", secret_env={"A": "1"}))
    before = raw_env(engine, models.worker_configs, "w1")
    assert configs.update("w1", {"name": "Renamed"}).secret_env == {"A": "1"}
    assert raw_env(engine, models.worker_configs, "w1") == before
    assert configs.update("w1", {"secret_env": {"B": SECRET}}).secret_env == {"B": SECRET}
    assert SECRET not in str(raw_env(engine, models.worker_configs, "w1"))


def test_plain_text_of_an_earlier_release_reads_and_is_sealed_once(
    engine: Engine, ring: KeyRing, stores: tuple[ConfigStore, JobStore]
) -> None:
    configs, jobs = stores
    configs.create(WorkerConfig("w1", "One"))
    configs.create(WorkerConfig("w2", "Two", secret_env={"SEALED": "x"}))
    jobs.insert([job(1), job(2)])
    set_raw_env(engine, models.worker_configs, "w1", {"API_KEY": SECRET})
    set_raw_env(engine, models.jobs, 2, {"TOKEN": SECRET})
    assert configs.get("w1").secret_env == {"API_KEY": SECRET}
    done = reseal_all(engine, ring)
    assert (done.values, done.rows, done.unopened) == (2, 2, [])
    assert SECRET not in str(raw_env(engine, models.worker_configs, "w1"))
    assert SECRET not in str(raw_env(engine, models.jobs, 2))
    assert configs.get("w1").secret_env == {"API_KEY": SECRET}
    assert jobs.get(2).spec.secret_env == {"TOKEN": SECRET}
    again = reseal_all(engine, ring)
    assert (again.values, again.rows, again.tables) == (0, 0, [])


def test_a_pass_under_a_new_key_seals_every_value_under_it(
    engine: Engine, ring: KeyRing, stores: tuple[ConfigStore, JobStore]
) -> None:
    configs, jobs = stores
    configs.create(WorkerConfig("w1", "One", secret_env={"A": "a", "B": "b"}))
    jobs.insert([job(i, TOKEN=f"t{i}") for i in range(1, 1201)])  # past one page
    new = DataKey.generate()
    rotated = KeyRing([*ring.keys, new])
    with engine.begin() as conn:
        done = reseal(conn, rotated)
    assert (done.values, done.rows) == (1202, 1201)
    only_new = KeyRing([new])
    assert ConfigStore(engine, only_new).get("w1").secret_env == {"A": "a", "B": "b"}
    assert JobStore(engine, only_new).get(1200).spec.secret_env == {"TOKEN": "t1200"}
    assert all(
        v.startswith(f"sealed:1:{new.key_id}:") for v in raw_env(engine, models.jobs, 7).values()
    )


def test_a_value_that_does_not_open_shows_its_names_and_fails_when_used(
    engine: Engine, ring: KeyRing, stores: tuple[ConfigStore, JobStore]
) -> None:
    configs, jobs = stores
    jobs.insert([job(1, TOKEN=SECRET), job(2, TOKEN="other", KEEP="k")])
    configs.create(WorkerConfig("w1", "One", secret_env={"API_KEY": SECRET}))
    # Job 1's sealed value copied onto job 2: sealed to job 1, it does not open there.
    moved = raw_env(engine, models.jobs, 1)
    set_raw_env(engine, models.jobs, 2, {**raw_env(engine, models.jobs, 2), **moved})
    damaged = raw_env(engine, models.worker_configs, "w1")["API_KEY"]
    set_raw_env(engine, models.worker_configs, "w1", {"API_KEY": damaged[:-4] + "AAAA"})

    assert jobs.get(1).spec.secret_env == {"TOKEN": SECRET}
    env = jobs.get(2).spec.secret_env
    assert isinstance(env, UnopenedSecrets) and sorted(env) == ["KEEP", "TOKEN"]
    with pytest.raises(SealError, match="job 2: secret_env TOKEN cannot be opened"):
        _ = {**env}
    cfg_env = configs.get("w1").secret_env
    error = unopened(cfg_env)
    assert error is not None and "worker config w1: secret_env API_KEY" in str(error)
    assert [c.worker_id for c in configs.list()] == ["w1"], "listing still works"
    assert unopened(jobs.get(1).spec.secret_env) is None

    done = reseal_all(engine, KeyRing([*ring.keys, DataKey.generate()]))
    assert done.values == 2, "job 1's value and job 2's KEEP are sealed again"
    assert sorted(line.split(":")[0] for line in done.unopened) == ["job 2", "worker config w1"]
    assert raw_env(engine, models.worker_configs, "w1")["API_KEY"].endswith("AAAA"), (
        "left as it was"
    )


def test_a_pass_leaves_no_earlier_row_version_in_postgresql_s_files(
    pg_url: str, pg_server: PgServer, ring: KeyRing
) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    ConfigStore(engine, ring).create(WorkerConfig("w1", "One"))
    set_raw_env(engine, models.worker_configs, "w1", {"API_KEY": SECRET})
    reseal_all(engine, ring)
    with engine.connect() as conn:
        conn.execute(text("CHECKPOINT"))  # the table's pages on disk, to be read there
        path = conn.execute(text("SELECT pg_relation_filepath('worker_configs')")).scalar_one()
    engine.dispose()
    on_disk = (pg_server.data_dir / path).read_bytes()
    assert b"API_KEY" in on_disk and SECRET.encode() not in on_disk

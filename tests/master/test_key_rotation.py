"""Rotating the data key: every secret sealed under a new key, the old ones retired, crash-safe."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from corral.cli import main
from corral.db import models
from corral.db.engine import make_engine
from corral.db.migrate import upgrade
from corral.domain.clock import utcnow
from corral.domain.jobs import Job, JobSpec
from corral.domain.workers import WorkerConfig
from corral.errors import AnotherMasterError, MasterStartError
from corral.master.data_key import data_key_path, load_ring, write_ring
from corral.master.key_rotation import rotate
from corral.master.single_master import claim_stopped
from corral.sealing import DataKey, KeyRing
from corral.settings import MasterSettings
from corral.store.configs import ConfigStore
from corral.store.jobs import JobStore
from corral.store.resealing import reseal_all
from corral.store.webhooks import WebhookStore

SECRETS = {"w1": "cfg-secret-1", 1: "job-secret-1", 2: "job-secret-2", "hook": "whsec_aG9vaw=="}


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> MasterSettings:
    return MasterSettings(data_dir=tmp_path / "data", database_url=db_url)


@pytest.fixture
def engine(settings: MasterSettings) -> Iterator[Engine]:
    """The database, migrated, with a config and two jobs holding secrets under a first key."""
    ring = load_ring(settings.data_dir)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    ConfigStore(engine, ring).create(
        WorkerConfig("w1", "One", secret_env={"API_KEY": str(SECRETS["w1"])})
    )
    now = utcnow()
    specs = {i: JobSpec(["true"], secret_env={"TOKEN": str(SECRETS[i])}) for i in (1, 2)}
    JobStore(engine, ring).insert(
        [Job(i, spec, submitted_at=now, updated_at=now) for i, spec in specs.items()]
    )
    WebhookStore(engine, ring).create("http://127.0.0.1:9/", str(SECRETS["hook"]), None, True)
    yield engine
    engine.dispose()


def key_ids_in_use(engine: Engine) -> set[str]:
    """The ids of the keys the stored values name."""
    with engine.connect() as conn:
        envs = list(conn.execute(select(models.worker_configs.c.secret_env)).scalars())
        envs += conn.execute(select(models.jobs.c.secret_env)).scalars()
        envs += conn.execute(select(models.webhooks.c.secret_env)).scalars()
    return {value.split(":")[2] for env in envs for value in env.values()}


def assert_all_readable(engine: Engine, ring: KeyRing) -> None:
    """Every secret opens to its value under ``ring``."""
    assert ConfigStore(engine, ring).get("w1").secret_env == {"API_KEY": SECRETS["w1"]}
    for i in (1, 2):
        assert JobStore(engine, ring).get(i).spec.secret_env == {"TOKEN": SECRETS[i]}
    assert WebhookStore(engine, ring).secret(1) == SECRETS["hook"]


def test_a_rotation_seals_everything_under_a_new_key_and_retires_the_old(
    settings: MasterSettings, engine: Engine
) -> None:
    old = load_ring(settings.data_dir).current
    done = rotate(settings)
    ring = load_ring(settings.data_dir)
    assert [k.key_id for k in ring.keys] == [done.key_id] != [old.key_id]
    assert (
        done.retired == [old.key_id]
        and old.key_id not in data_key_path(settings.data_dir).read_text()
    )
    assert (done.resealed.values, done.resealed.unopened) == (4, [])
    assert key_ids_in_use(engine) == {done.key_id}
    assert_all_readable(engine, ring)
    again = rotate(settings)
    assert again.retired == [done.key_id] and key_ids_in_use(engine) == {again.key_id}
    assert_all_readable(engine, load_ring(settings.data_dir))


def test_a_rotation_cut_short_after_writing_its_key_is_finished_by_the_next(
    settings: MasterSettings, engine: Engine
) -> None:
    old = load_ring(settings.data_dir)
    write_ring(settings.data_dir, [*old.keys, DataKey.generate()])  # then the crash
    assert key_ids_in_use(engine) == {old.current.key_id}
    done = rotate(settings)
    assert len(done.retired) == 2 and key_ids_in_use(engine) == {done.key_id}
    assert_all_readable(engine, KeyRing([load_ring(settings.data_dir).current]))


def test_a_rotation_cut_short_after_its_commit_is_finished_by_the_next(
    settings: MasterSettings, engine: Engine
) -> None:
    old = load_ring(settings.data_dir)
    halfway = write_ring(settings.data_dir, [*old.keys, DataKey.generate()])
    reseal_all(engine, halfway)  # committed; the crash comes before the old key is retired
    assert key_ids_in_use(engine) == {halfway.current.key_id}
    assert_all_readable(engine, load_ring(settings.data_dir))
    done = rotate(settings)
    assert key_ids_in_use(engine) == {done.key_id}
    assert_all_readable(engine, load_ring(settings.data_dir))


def test_a_rotation_is_refused_while_a_master_holds_the_data_folder(
    settings: MasterSettings, engine: Engine
) -> None:
    before = data_key_path(settings.data_dir).read_text()
    with (
        claim_stopped(settings, "pid 1, http://127.0.0.1:1, on here"),
        pytest.raises(AnotherMasterError, match=r"another corral master \(pid 1, http://"),
    ):
        rotate(settings)
    assert data_key_path(settings.data_dir).read_text() == before, "nothing changed"
    assert key_ids_in_use(engine) == {load_ring(settings.data_dir).current.key_id}


def test_a_rotation_is_refused_while_another_folder_s_master_holds_the_database(
    tmp_path: Path, pg_url: str
) -> None:
    mine = MasterSettings(data_dir=tmp_path / "a", database_url=pg_url)
    theirs = mine.with_overrides(data_dir=tmp_path / "b")
    load_ring(mine.data_dir)
    before = data_key_path(mine.data_dir).read_text()
    with (
        claim_stopped(theirs, "pid 1, http://127.0.0.1:1, on there"),
        pytest.raises(AnotherMasterError, match="is using the database"),
    ):
        rotate(mine)
    assert data_key_path(mine.data_dir).read_text() == before, "nothing changed"


def test_a_missing_data_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MasterStartError, match="no data folder at"):
        rotate(MasterSettings(data_dir=tmp_path / "nowhere"))
    assert not (tmp_path / "nowhere").exists()


def test_the_command_says_what_it_did_and_refuses_a_running_master(
    settings: MasterSettings, engine: Engine
) -> None:
    args = ["keys", "rotate", "--data-dir", str(settings.data_dir)]
    args += ["--database-url", settings.db_url]
    old = load_ring(settings.data_dir).current.key_id
    with claim_stopped(settings, "pid 1, http://127.0.0.1:1, on here"):
        refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 1
    assert "Error: stop the master first: another corral master (pid 1" in refused.output
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    new = load_ring(settings.data_dir).current.key_id
    assert result.output == f"data key {new} now seals 4 stored secret values; retired key {old}\n"

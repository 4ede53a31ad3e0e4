"""ConfigStore, RuntimeStore and WorkerLogStore against SQLite and PostgreSQL."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select

from corral.db import models
from corral.domain.worker_states import DesiredState, WorkerState
from corral.domain.workers import DeploymentType, WorkerConfig, WorkerRuntime
from corral.errors import ConflictError, InvalidInputError, InvalidTransitionError, NotFoundError
from corral.sealing import KeyRing
from corral.store import ConfigStore, RuntimeStore, WorkerLogStore

S = WorkerState


@pytest.fixture
def configs(engine: Engine, ring: KeyRing) -> ConfigStore:
    return ConfigStore(engine, ring)


@pytest.fixture
def runtime(engine: Engine, configs: ConfigStore) -> RuntimeStore:
    """The runtime store, with worker "w1" configured."""
    configs.create(WorkerConfig(worker_id="w1", name="One"))
    return RuntimeStore(engine)


@pytest.fixture
def logs(engine: Engine) -> WorkerLogStore:
    return WorkerLogStore(engine)


def full_config(worker_id: str = "full") -> WorkerConfig:
    """A config with every field away from its default, nested JSON included."""
    return WorkerConfig(
        worker_id=worker_id,
        name="Full één",
        deployment_type=DeploymentType.SSH,
        host="10.0.0.7",
        port=2222,
        cpus=3,
        max_accounts=4,
        labels={"gpu": "a100", "zone": "b"},
        env={"PATH": "/bin", "EMPTY": ""},
        secret_env={"TOKEN": "s3cr3t"},
        launcher={"user": "corral", "key_path": "/k", "opts": {"retries": 3, "ports": [1, 2]}},
        run_as="nobody:nogroup",
        allowed_run_as=["nobody", "daemon"],
        auto_start=False,
        auto_restart=False,
        max_restart_attempts=9,
        restart_delay_ms=250,
    )


def log_count(engine: Engine) -> int:
    """How many worker_logs rows exist, for any worker."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(models.worker_logs)).scalar_one())


def test_create_round_trips_every_field(configs: ConfigStore) -> None:
    cfg = full_config()
    created = configs.create(cfg)
    assert created.created_at is not None and created.created_at.tzinfo == UTC
    assert created.updated_at == created.created_at
    assert created == replace(cfg, created_at=created.created_at, updated_at=created.updated_at)
    fetched = configs.get("full")
    assert fetched == created
    assert type(fetched.deployment_type) is DeploymentType
    assert fetched.launcher["opts"] == {"retries": 3, "ports": [1, 2]}


def test_create_adds_a_stopped_runtime_row(engine: Engine, configs: ConfigStore) -> None:
    configs.create(WorkerConfig(worker_id="w1", name="One"))
    rt = RuntimeStore(engine).get("w1")
    assert rt == WorkerRuntime(worker_id="w1", updated_at=rt.updated_at)
    assert rt.state is S.STOPPED and rt.desired_state is DesiredState.STOPPED
    assert log_count(engine) == 0


def test_create_refuses_taken_id_and_keeps_the_original(configs: ConfigStore) -> None:
    configs.create(full_config())
    with pytest.raises(ConflictError, match="already exists"):
        configs.create(WorkerConfig(worker_id="full", name="Other"))
    assert configs.get("full").name == "Full één"
    assert configs.count() == 1


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        (WorkerConfig(worker_id="Bad Id", name="x"), "invalid worker id"),
        (WorkerConfig(worker_id="../etc", name="x"), "invalid worker id"),
        (WorkerConfig(worker_id="ok", name="x", deployment_type="ftp"), "deployment type"),  # type: ignore[arg-type]
        (WorkerConfig(worker_id="ok", name="x", labels=["a"]), "labels must be a mapping"),  # type: ignore[arg-type]
    ],
)
def test_create_refuses_bad_input(
    engine: Engine, configs: ConfigStore, cfg: WorkerConfig, match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        configs.create(cfg)
    assert configs.count() == 0
    assert RuntimeStore(engine).list() == []


def test_list_auto_start_and_count(configs: ConfigStore) -> None:
    assert configs.list() == [] and configs.count() == 0
    for worker_id, auto in [("b", True), ("c", False), ("a", True)]:
        configs.create(WorkerConfig(worker_id=worker_id, name=worker_id, auto_start=auto))
    assert [c.worker_id for c in configs.list()] == ["a", "b", "c"]
    assert [c.worker_id for c in configs.auto_start()] == ["a", "b"]
    assert configs.count() == 3


def test_update_changes_only_the_given_fields(configs: ConfigStore) -> None:
    created = configs.create(full_config())
    changed = configs.update(
        "full",
        {
            "name": "Renamed",
            "deployment_type": "docker",
            "labels": {"x": "1"},
            "port": None,
            "run_as": None,
            "allowed_run_as": ["nobody"],
        },
    )
    assert changed.deployment_type is DeploymentType.DOCKER
    assert created.updated_at is not None and changed.updated_at is not None
    assert changed.updated_at > created.updated_at
    assert changed == replace(
        created,
        name="Renamed",
        deployment_type=DeploymentType.DOCKER,
        labels={"x": "1"},
        port=None,
        run_as=None,
        allowed_run_as=["nobody"],
        updated_at=changed.updated_at,
    )
    assert configs.get("full") == changed


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"worker_id": "other"}, "worker_id"),
        ({"created_at": datetime.now(UTC)}, "created_at"),
        ({"name": "x", "bogus": 1}, "bogus"),
        ({"deployment_type": "ftp"}, "deployment type"),
        ({"env": "A=1"}, "env must be a mapping"),
        ({"allowed_run_as": "nobody"}, "allowed_run_as must be a list"),
        ({"allowed_run_as": [1]}, "allowed_run_as must be a list"),
    ],
)
def test_update_refuses_bad_changes(
    configs: ConfigStore, changes: dict[str, object], match: str
) -> None:
    before = configs.create(full_config())
    with pytest.raises(InvalidInputError, match=match):
        configs.update("full", changes)
    assert configs.get("full") == before


def test_missing_config_raises(configs: ConfigStore) -> None:
    with pytest.raises(NotFoundError, match="ghost"):
        configs.get("ghost")
    with pytest.raises(NotFoundError, match="ghost"):
        configs.update("ghost", {"name": "x"})
    with pytest.raises(NotFoundError, match="ghost"):
        configs.delete("ghost")


def test_delete_removes_config_and_runtime_keeps_history(
    engine: Engine, configs: ConfigStore, logs: WorkerLogStore
) -> None:
    configs.create(full_config())
    configs.create(full_config("other"))
    logs.add("full", "note", "before delete")
    configs.delete("full")
    with pytest.raises(NotFoundError):
        configs.get("full")
    with pytest.raises(NotFoundError):
        RuntimeStore(engine).get("full")
    assert [rt.worker_id for rt in RuntimeStore(engine).list()] == ["other"]
    assert [e.message for e in logs.list("full")] == ["before delete"]


def test_transition_sets_fields_and_logs(engine: Engine, runtime: RuntimeStore) -> None:
    before = runtime.get("w1")
    started = datetime(2030, 1, 2, 5, 4, 3, 21, tzinfo=timezone(timedelta(hours=2)))
    rt = runtime.transition("w1", S.STARTING, "launching", pid=4242, started_at=started)
    assert (rt.state, rt.pid, rt.started_at) == (S.STARTING, 4242, started)
    assert rt.started_at is not None and rt.started_at.tzinfo == UTC
    assert before.updated_at is not None and rt.updated_at is not None
    assert rt.updated_at > before.updated_at
    assert runtime.get("w1") == rt
    (entry,) = WorkerLogStore(engine).list("w1")
    assert (entry.kind, entry.level, entry.at) == ("transition", "info", rt.updated_at)
    assert entry.message == "stopped -> starting: launching"


def test_transition_log_level_and_chain(engine: Engine, runtime: RuntimeStore) -> None:
    for state in (S.STARTING, S.RUNNING):
        runtime.transition("w1", state, "ok")
    rt = runtime.transition("w1", S.CRASHED, "exit 3", level="error", exit_code=3, pid=None)
    assert (rt.state, rt.exit_code, rt.pid) == (S.CRASHED, 3, None)
    newest = WorkerLogStore(engine).list("w1")
    assert [(e.level, e.message) for e in newest] == [
        ("error", "running -> crashed: exit 3"),
        ("info", "starting -> running: ok"),
        ("info", "stopped -> starting: ok"),
    ]


@pytest.mark.parametrize(
    ("new", "fields", "level", "error"),
    [
        (S.RUNNING, {}, "info", InvalidTransitionError),  # not an edge
        (S.STOPPED, {}, "info", InvalidTransitionError),  # same state
        (S.STARTING, {"bogus": 1}, "info", InvalidInputError),
        (S.STARTING, {"state": "running"}, "info", InvalidInputError),
        (S.STARTING, {"pid": 1}, "loud", InvalidInputError),  # checked after the update
    ],
)
def test_refused_transition_writes_nothing(
    engine: Engine,
    runtime: RuntimeStore,
    new: WorkerState,
    fields: dict[str, object],
    level: str,
    error: type[Exception],
) -> None:
    before = runtime.get("w1")
    with pytest.raises(error):
        runtime.transition("w1", new, "nope", level=level, **fields)
    assert runtime.get("w1") == before
    assert log_count(engine) == 0


def test_update_sets_fields_but_not_state(engine: Engine, runtime: RuntimeStore) -> None:
    beat = datetime.now(UTC)
    rt = runtime.update(
        "w1",
        desired_state="running",
        cpu_percent=12.5,
        memory_bytes=6 * 2**30,
        cpu_ids=[0, 3],
        last_heartbeat_at=beat,
        instance_id="0f8fad5b-d9cb-469f-a165-70867728950e",
    )
    assert rt.desired_state is DesiredState.RUNNING and rt.state is S.STOPPED
    assert (rt.cpu_percent, rt.memory_bytes, rt.cpu_ids) == (12.5, 6 * 2**30, [0, 3])
    assert rt.last_heartbeat_at == beat
    assert runtime.get("w1") == rt
    assert runtime.update("w1", desired_state=DesiredState.STOPPED).desired_state == "stopped"
    assert log_count(engine) == 0


@pytest.mark.parametrize(
    "fields", [{"state": "running"}, {"updated_at": None}, {"nope": 1}, {"desired_state": "up"}]
)
def test_update_refuses_bad_fields(runtime: RuntimeStore, fields: dict[str, object]) -> None:
    before = runtime.get("w1")
    with pytest.raises(InvalidInputError):
        runtime.update("w1", **fields)
    assert runtime.get("w1") == before


def test_missing_runtime_raises(runtime: RuntimeStore) -> None:
    with pytest.raises(NotFoundError):
        runtime.transition("ghost", S.STARTING, "x")
    with pytest.raises(NotFoundError):
        runtime.update("ghost", pid=1)
    with pytest.raises(NotFoundError):
        runtime.record_error("ghost", "boom")
    with pytest.raises(NotFoundError):
        runtime.get("ghost")


def test_record_error_counts_and_logs(engine: Engine, runtime: RuntimeStore) -> None:
    runtime.record_error("w1", "first")
    rt = runtime.record_error("w1", "second")
    assert (rt.error_count, rt.last_error, rt.state) == (2, "second", S.STOPPED)
    entries = WorkerLogStore(engine).list("w1")
    assert [(e.kind, e.level, e.message) for e in entries] == [
        ("error", "error", "second"),
        ("error", "error", "first"),
    ]


def test_log_add_and_page_newest_first(logs: WorkerLogStore) -> None:
    added = [logs.add("w1", "job", f"m{i}", level="warning" if i % 2 else "info") for i in range(7)]
    logs.add("w2", "job", "other worker")
    assert [e.id for e in added] == sorted(e.id for e in added)
    assert added[1].level == "warning" and added[0].at.tzinfo == UTC
    page1 = logs.list("w1", limit=3)
    page2 = logs.list("w1", limit=3, before_id=page1[-1].id)
    page3 = logs.list("w1", limit=3, before_id=page2[-1].id)
    assert [e.message for e in page1 + page2 + page3] == [f"m{i}" for i in range(6, -1, -1)]
    assert logs.list("w1", limit=3, before_id=page3[-1].id) == []
    assert page1[0] == added[-1]
    assert logs.list("nobody") == []
    with pytest.raises(InvalidInputError, match="limit"):
        logs.list("w1", limit=0)


@pytest.mark.parametrize(("kind", "level"), [("job", "verbose"), ("", "info"), ("k" * 41, "info")])
def test_log_add_refuses_bad_level_or_kind(
    engine: Engine, logs: WorkerLogStore, kind: str, level: str
) -> None:
    with pytest.raises(InvalidInputError):
        logs.add("w1", kind, "x", level=level)
    assert log_count(engine) == 0

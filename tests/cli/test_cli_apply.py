"""``corral apply``: the plan it prints, field by field, and the configs it leaves."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from corral.cli import main
from master_process import MasterProcess

pytestmark = pytest.mark.xdist_group("cli-apply")

FIRST = """
[workers.ap-a]
cpus = 1
auto_start = false
labels = { zone = "a" }
secret_env = ["AP_KEY"]

[workers.ap-b]
auto_start = false
"""
SECOND = """
[workers.ap-a]
cpus = 2
auto_start = false
labels = { zone = "b" }
secret_env = []

[workers.ap-c]
auto_start = false
max_restart_attempts = 1
"""


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MasterProcess]:
    """A master with no worker config."""
    master = MasterProcess(tmp_path_factory.mktemp("apply") / "data").start()
    try:
        yield master
    finally:
        master.stop()


def apply(master: MasterProcess, path: Path, *args: str) -> Result:
    env = {"CORRAL_DATA_DIR": str(master.data_dir), "CORRAL_TOKEN": None, "AP_KEY": "k-secret"}
    return CliRunner(env=env).invoke(main, ["--url", master.url, "apply", str(path), *args])


def stored(master: MasterProcess) -> dict[str, dict[str, object]]:
    return {c["worker_id"]: c for c in master.read("/worker-configs")}


def test_apply_prints_its_plan_and_makes_it(master: MasterProcess, tmp_path: Path) -> None:
    path = tmp_path / "corral.toml"
    path.write_text(FIRST)
    dry = apply(master, path, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout == (
        "+ ap-a\n"
        "    cpus: 1\n"
        "    auto_start: false\n"
        '    labels: {"zone":"a"}\n'
        "    secret_env: AP_KEY set\n"
        "+ ap-b\n"
        "    auto_start: false\n"
        "dry run: 2 to add, 0 to change, 0 to remove; nothing changed\n"
    )
    assert stored(master) == {}
    done = apply(master, path)
    assert done.exit_code == 0, done.output
    assert done.stdout.endswith(f"applied {path}: 2 add, 0 change, 0 remove\n")
    assert "k-secret" not in done.stdout
    configs = stored(master)
    assert configs["ap-a"]["cpus"] == 1 and configs["ap-a"]["secret_env_keys"] == ["AP_KEY"]
    again = apply(master, path)
    assert again.stdout == (f"= unchanged: ap-a, ap-b\napplied {path}: 0 add, 0 change, 0 remove\n")

    path.write_text(SECOND)
    changed = apply(master, path)
    assert changed.exit_code == 0, changed.output
    assert changed.stdout == (
        "~ ap-a\n"
        "    cpus: 1 → 2\n"
        '    labels: {"zone":"a"} → {"zone":"b"}\n'
        "    secret_env: AP_KEY removed\n"
        "+ ap-c\n"
        "    auto_start: false\n"
        "    max_restart_attempts: 1\n"
        "= not in the file, kept (--prune removes them): ap-b\n"
        f"applied {path}: 1 add, 1 change, 0 remove\n"
    )
    configs = stored(master)
    assert configs["ap-a"]["labels"] == {"zone": "b"} and configs["ap-a"]["secret_env_keys"] == []
    assert set(configs) == {"ap-a", "ap-b", "ap-c"}

    dry_prune = apply(master, path, "--prune", "--dry-run")
    assert dry_prune.stdout == (
        "- ap-b\n= unchanged: ap-a, ap-c\n"
        "dry run: 0 to add, 0 to change, 1 to remove; nothing changed\n"
    )
    assert "ap-b" in stored(master)
    pruned = apply(master, path, "--prune")
    assert pruned.exit_code == 0 and set(stored(master)) == {"ap-a", "ap-c"}


def test_a_refusal_names_the_file_and_the_table(master: MasterProcess, tmp_path: Path) -> None:
    path = tmp_path / "corral.toml"
    path.write_text("[workers.ap-big]\ncpus = 64\nauto_start = false\n")
    result = apply(master, path)
    assert result.exit_code == 1
    assert f"{path}: [workers.ap-big]: refused by the master: 422: " in result.stderr
    assert "this host has" in result.stderr
    assert "ap-big" not in stored(master)


def test_a_bad_file_changes_nothing(master: MasterProcess, tmp_path: Path) -> None:
    path = tmp_path / "corral.toml"
    path.write_text('[workers.ap-d]\nsecret_env = { AP_KEY = "literal" }\n')
    result = apply(master, path)
    assert (
        result.exit_code == 1
        and "[workers.ap-d] secret_env: name the variables only" in result.stderr
    )
    path.write_text('[workers.ap-d]\nsecret_env = ["AP_UNSET_KEY"]\n')
    result = apply(master, path, "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.endswith(
        "[workers.ap-d] secret_env: AP_UNSET_KEY not set in the environment\n"
    )
    assert "ap-d" not in stored(master)

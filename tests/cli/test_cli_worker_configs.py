"""``corral workers add|edit|rm|show`` against a real master."""

import json

import pytest
from click.testing import CliRunner, Result

from corral.cli import main
from master_process import MasterProcess

from .conftest import RunCli

# The package's tests share one master (conftest.py): run them in one test process.
pytestmark = pytest.mark.xdist_group("cli-master")


def answering(master: MasterProcess, answer: str, *args: str) -> Result:
    """Run the CLI with ``answer`` typed at its prompt."""
    env = {"CORRAL_DATA_DIR": str(master.data_dir), "CORRAL_TOKEN": None}
    return CliRunner(env=env).invoke(main, ["--url", master.url, *args], input=answer)


def show(corral: RunCli, worker_id: str) -> dict[str, dict[str, object]]:
    result = corral("workers", "show", "--json", worker_id)
    assert result.exit_code == 0, result.output
    shown: dict[str, dict[str, object]] = json.loads(result.stdout)
    return shown


def test_add_sets_every_field_and_show_gives_secret_names_only(
    corral: RunCli, master: MasterProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CFG_API_KEY", "hunter2-cli-secret")
    added = corral(
        "workers", "add", "cfg-all", "--name", "All fields", "--cpus", "1", "--cpu-ids", "1",
        "--max-accounts", "3", "--label", "zone=a", "--label", "disk=ssd", "--env", "MODE=fast",
        "--secret-env", "CFG_API_KEY", "--launcher", "docker_image=corral:1",
        "--no-auto-start", "--no-auto-restart", "--max-restart-attempts", "2",
        "--restart-delay-ms", "50", "--deployment-type", "local",
    )  # fmt: skip
    try:
        assert added.exit_code == 0 and added.stdout == "added cfg-all\n", added.output
        config = show(corral, "cfg-all")["config"]
        assert config["cpus"] == 1 and config["cpu_ids"] == [1] and config["max_accounts"] == 3
        assert config["labels"] == {"zone": "a", "disk": "ssd"} and config["env"] == {
            "MODE": "fast"
        }
        assert config["secret_env_keys"] == ["CFG_API_KEY"]
        assert config["launcher"] == {"docker_image": "corral:1"} and config["name"] == "All fields"
        assert (config["auto_start"], config["auto_restart"]) == (False, False)
        assert (config["max_restart_attempts"], config["restart_delay_ms"]) == (2, 50)
        rows = corral("workers", "show", "cfg-all").stdout
        assert (
            "hunter2" not in rows
            and "hunter2" not in corral("workers", "show", "--json", "cfg-all").stdout
        )
        table = {r.split("\t")[0]: r.split("\t")[1:] for r in rows.splitlines()}
        assert table["state"] == ["-", "stopped"] and table["cpu_ids"] == ["[1]", "[]"]
        assert table["secret_env_keys"] == ['["CFG_API_KEY"]', "-"]
        assert table["restart_count"] == ["-", "0"]
    finally:
        master.api.delete("/worker-configs/cfg-all")


def test_a_secret_not_in_the_environment_is_named_and_nothing_is_made(
    corral: RunCli, master: MasterProcess
) -> None:
    result = corral("workers", "add", "cfg-nosecret", "--secret-env", "CFG_SURELY_UNSET")
    assert result.exit_code == 2
    assert "--secret-env CFG_SURELY_UNSET: not set in your environment" in result.stderr
    assert master.api.get("/worker-configs/cfg-nosecret").status_code == 404


def test_bad_values_are_refused_before_anything_is_sent(corral: RunCli) -> None:
    for args, said in [
        (["--label", "zone"], "--label 'zone': write it as KEY=VALUE"),
        (["--cpu-ids", "0-3"], "--cpu-ids '0-3': write CPU numbers as 0,1,4"),
        (["--cpus", "0"], "0 is not in the range"),
    ]:
        result = corral("workers", "add", "cfg-bad", *args)
        assert result.exit_code == 2 and said in result.stderr, (args, result.output)


def test_more_cpus_than_the_host_has_is_refused_with_the_count(corral: RunCli) -> None:
    result = corral("workers", "add", "cfg-big", "--cpus", "64", "--no-auto-start")
    assert result.exit_code == 1
    assert "422" in result.stderr and "this host has" in result.stderr and "not 64" in result.stderr


def test_edit_changes_only_what_is_given(
    corral: RunCli, master: MasterProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CFG_A", "one")
    monkeypatch.setenv("CFG_B", "two")
    master.create_worker(
        "cfg-edit", auto_start=False, cpus=1, labels={"zone": "a", "disk": "ssd"},
        env={"KEEP": "1", "DROP": "2"}, secret_env={"CFG_A": "x"}, run_as=None,
    )  # fmt: skip
    try:
        result = corral(
            "workers", "edit", "cfg-edit", "--label", "zone=b", "--rm-label", "disk",
            "--rm-env", "DROP", "--clear", "cpus", "--max-accounts", "5",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert result.stdout == "changed cfg-edit: cpus, env, labels, max_accounts\n"
        config = show(corral, "cfg-edit")["config"]
        assert config["labels"] == {"zone": "b"} and config["env"] == {"KEEP": "1"}
        assert config["cpus"] is None and config["max_accounts"] == 5
        assert config["secret_env_keys"] == ["CFG_A"]
        dropped = corral("workers", "edit", "cfg-edit", "--secret-env", "CFG_B")
        assert dropped.exit_code == 2 and "name CFG_A again" in dropped.stderr
        both = corral(
            "workers", "edit", "cfg-edit", "--secret-env", "CFG_A", "--secret-env", "CFG_B"
        )
        assert both.exit_code == 0, both.output
        assert show(corral, "cfg-edit")["config"]["secret_env_keys"] == ["CFG_A", "CFG_B"]
        removed = corral(
            "workers", "edit", "cfg-edit", "--rm-secret-env", "CFG_A", "--secret-env", "CFG_B"
        )
        assert removed.exit_code == 0, removed.output
        assert show(corral, "cfg-edit")["config"]["secret_env_keys"] == ["CFG_B"]
        assert corral("workers", "edit", "cfg-edit").exit_code == 2
    finally:
        master.api.delete("/worker-configs/cfg-edit")


def test_rm_asks_first_and_refuses_a_running_worker_without_force(
    corral: RunCli, master: MasterProcess
) -> None:
    master.create_worker("cfg-rm", cpus=1)
    master.wait_state("cfg-rm", "running")
    try:
        refused = corral("workers", "rm", "--yes", "cfg-rm")
        assert refused.exit_code == 1 and "cfg-rm is running: stop it first" in refused.stderr
        kept = answering(master, "n\n", "workers", "rm", "--force", "cfg-rm")
        assert (
            kept.exit_code == 1 and "Delete the config of worker cfg-rm (running)?" in kept.output
        )
        assert master.status("cfg-rm")["state"] == "running"
        removed = answering(master, "y\n", "workers", "rm", "--force", "cfg-rm")
        assert removed.exit_code == 0 and removed.stdout.endswith("removed cfg-rm\n"), (
            removed.output
        )
        assert master.api.get("/worker-configs/cfg-rm").status_code == 404
    finally:
        master.api.delete("/worker-configs/cfg-rm")
    assert corral("workers", "rm", "--yes", "cfg-rm").exit_code == 1

"""``corral audit`` against a real master: who changed what, newest first."""

import json

import pytest
from click.testing import CliRunner

from corral.cli import main
from master_process import MasterProcess

from .conftest import RunCli

pytestmark = pytest.mark.xdist_group("cli-master")


def test_audit_lists_changes_newest_first_with_actor_and_answer(
    corral: RunCli, master: MasterProcess
) -> None:
    assert corral("submit", "--", "true").exit_code == 0
    result = corral("audit", "--limit", "1")
    assert result.exit_code == 0, result.output
    (row,) = [line.split("\t") for line in result.stdout.splitlines()]
    assert row[2:] == ["admin", "127.0.0.1", "POST", "201", "/api/v1/jobs"]
    entries = json.loads(corral("audit", "--json", "--actor", "admin").output)
    assert entries[0]["route"] == "/api/v1/jobs" and entries[0]["status"] == 201


def test_without_the_token_the_cli_says_how_to_give_it(master: MasterProcess) -> None:
    runner = CliRunner(env={"CORRAL_DATA_DIR": "/nonexistent", "CORRAL_TOKEN": None})
    result = runner.invoke(main, ["--url", master.url, "audit"])
    assert result.exit_code != 0
    assert "--token" in result.output and "CORRAL_DATA_DIR" in result.output

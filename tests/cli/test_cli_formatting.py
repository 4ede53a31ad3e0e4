"""The CLI's pure parts: argument parsing, exit codes, tables and cells."""

from datetime import UTC, datetime, timedelta
from typing import Any

import click
import pytest
from click.testing import CliRunner

from corral.cli import main
from corral.cli.exit_codes import exit_code_of
from corral.cli.job_spec import submit_arguments
from corral.cli.jobs import job_row
from corral.cli.output import age, cell, size, table
from corral.cli.submit import parse_pairs
from corral.cli.workers import summary, worker_row
from corral.client import Job

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def job(**fields: Any) -> Job:
    """A JobOut body with sensible values, overridden by ``fields``."""
    body: dict[str, Any] = {
        "id": 7,
        "state": "succeeded",
        "command": ["echo", "hello world"],
        "shell": False,
        "cpus": 1,
        "max_attempts": 1,
        "attempt": 1,
        "submitted_at": "2025-01-02T03:04:05+00:00",
        "cancel_requested": False,
    }
    return Job.from_json(body | fields)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"state": "succeeded", "exit_code": 0}, 0),
        ({"state": "failed", "exit_code": 3}, 3),
        ({"state": "failed", "signal": 9}, 137),
        ({"state": "failed", "reason": "spawn_failed", "reason_detail": "no such file"}, 127),
        ({"state": "failed", "reason": "worker_crashed"}, 1),
        ({"state": "timed_out", "signal": 15}, 124),
        ({"state": "cancelled", "signal": 15}, 130),
    ],
)
def test_exit_code_follows_the_shells_conventions(fields: dict[str, Any], code: int) -> None:
    assert exit_code_of(job(**fields)) == code


def test_pairs_parse_and_refuse_what_is_not_key_value(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_pairs(("A=1", "B=x=y", "C=")) == {"A": "1", "B": "x=y", "C": ""}
    monkeypatch.setenv("FROM_HERE", "v")
    assert parse_pairs(("FROM_HERE",), from_env=True) == {"FROM_HERE": "v"}
    for bad in ("NOPE", "=v"):
        with pytest.raises(click.BadParameter):
            parse_pairs((bad,))


def test_submit_arguments_leave_unset_options_to_the_master() -> None:
    opts = {
        "shell": False,
        "cpus": 2,
        "timeout": None,
        "max_attempts": None,
        "max_requeues": 3,
        "retry_delay": None,
        "memory_mb": None,
        "priority": None,
        "account": None,
        "env": {},
        "secret_env": {},
        "cwd": None,
        "label": {"team": "a"},
        "idempotency_key": None,
        "run_as": "nobody",
    }
    args = submit_arguments(("ls", "-l"), opts)
    assert args["command"] == ["ls", "-l"] and args["cpus"] == 2
    assert args["env"] is None and args["secret_env"] is None
    assert args["labels"] == {"team": "a"} and args["max_requeues"] == 3
    assert args["run_as"] == "nobody"
    shell = submit_arguments(("echo", "$HOME", "|", "wc"), opts | {"shell": True})
    assert shell["command"] == "echo $HOME | wc" and shell["shell"] is True


def test_options_after_the_command_belong_to_the_command() -> None:
    """``corral submit ls -l`` must not read -l as an option of submit."""
    result = CliRunner().invoke(main, ["--url", "http://127.0.0.1:9", "submit", "ls", "-l"])
    assert "no such option" not in result.output
    assert result.exit_code == 1
    assert "no master running at http://127.0.0.1:9" in result.output


@pytest.mark.parametrize(
    "argv",
    [
        ["submit"],
        ["submit", "--cpus", "0", "true"],
        ["submit", "--env", "NOT_A_PAIR_AND_NOT_SET_HERE", "true"],
        ["submit", "--label", "", "true"],
        ["jobs", "--state", "sleeping"],
        ["jobs", "show", "seven"],
        ["workers", "stop"],
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    result = CliRunner().invoke(main, ["--url", "http://127.0.0.1:9", *argv])
    assert result.exit_code == 2, result.output


def test_table_aligns_and_cuts_only_the_last_column() -> None:
    rows = [["1", "running", "sleep 1000"], ["22", "ok", "x" * 200]]
    lines = table(["ID", "STATE", "COMMAND"], rows, width=40)
    assert lines[0] == "ID  STATE    COMMAND"
    assert lines[1] == "1   running  sleep 1000"
    assert len(lines[2]) == 40 and lines[2].endswith("…")
    narrow = table(["ID", "STATE", "COMMAND"], rows, width=5)
    assert narrow[2].startswith("22  ok       xxxx")


def test_cells_ages_and_sizes() -> None:
    assert cell(None) == "-" and cell([1, 2]) == "[1,2]" and cell({"a": 1}) == '{"a":1}'
    assert cell(NOW) == "2025-01-02T03:04:05+00:00"
    assert age(NOW - timedelta(seconds=42), NOW) == "42s"
    assert age(NOW - timedelta(minutes=5, seconds=59), NOW) == "5m"
    assert age(NOW - timedelta(days=3), NOW) == "3d"
    assert age(None) == "-"
    assert [size(n) for n in (None, 512, 1536, 40 * 2**20, 3 * 2**30)] == [
        "-",
        "512B",
        "1.5K",
        "40.0M",
        "3.0G",
    ]


def test_job_rows_quote_arguments_and_show_shell_commands_as_typed() -> None:
    row = job_row(job(worker_id="w1", attempt=2, max_attempts=3))
    assert row[:5] == ["7", "succeeded", "2/3", "w1", "1"]
    assert row[-1] == "echo 'hello world'"
    assert job_row(job(shell=True, command=["echo a | wc"]))[-1] == "echo a | wc"


def test_worker_rows_and_fleet_summary() -> None:
    status = {
        "worker_id": "w1",
        "state": "running",
        "pid": 42,
        "cpu_ids": [0, 1],
        "cpus_allocated": 1,
        "active_jobs": 1,
        "cpu_percent": 12.34,
        "memory_bytes": 30 * 2**20,
        "restart_count": 2,
        "started_at": datetime.now(UTC).isoformat(),
        "last_error": None,
    }
    assert worker_row(status) == ["w1", "running", "42", "1/2", "1", "12", "30.0M", "2", "0s", "-"]
    overview = {
        "total": 2,
        "by_state": {"running": 1, "stopped": 1, "crashed": 0},
        "cpus": 2,
        "cpus_allocated": 1,
        "active_jobs": 1,
    }
    assert summary(overview) == (
        "2 workers (1 running, 1 stopped); 1/2 CPUs allocated, 1 job running"
    )


def test_a_stopped_worker_has_no_load_and_a_running_one_no_old_error() -> None:
    was = {
        "worker_id": "w1",
        "pid": None,
        "cpu_ids": [0],
        "cpu_percent": 50.0,
        "memory_bytes": 2**20,
        "started_at": datetime.now(UTC).isoformat(),
        "last_error": "exited unexpectedly with exit code 1",
    }
    stopped = worker_row(was | {"state": "crashed"})
    assert stopped[5:7] == ["-", "-"] and stopped[-1] == "exited unexpectedly with exit code 1"
    running = worker_row(was | {"state": "running", "pid": 7})
    assert running[5:7] == ["50", "1.0M"] and running[-1] == "-"

"""Command line and environment of ``corral worker``; the import graph stays lean."""

from __future__ import annotations

import subprocess
import sys

import pytest

from corral.worker.main import main, parse_settings

FORBIDDEN = (
    "fastapi",
    "starlette",
    "pydantic",
    "sqlalchemy",
    "alembic",
    "httpx",
    "click",
    "uvicorn",
)


def test_arguments_win_over_environment() -> None:
    env = {
        "CORRAL_MASTER_URL": "http://env:1",
        "CORRAL_WORKER_ID": "env-id",
        "CORRAL_WORKER_TOKEN": "s3cr3t-tok",
        "CORRAL_PARENT_PID": "42",
    }
    settings, level = parse_settings(
        ["--master", "http://arg:2", "--worker-id", "arg-id", "--heartbeat-interval", "0.5"], env
    )
    assert (settings.master_url, settings.worker_id) == ("http://arg:2", "arg-id")
    assert settings.heartbeat_interval_s == 0.5
    assert settings.parent_pid == 42
    assert level == "INFO"
    assert "s3cr3t-tok" not in repr(settings)


def test_environment_fallback() -> None:
    env = {"CORRAL_MASTER_URL": "http://m", "CORRAL_WORKER_ID": "w", "CORRAL_WORKER_TOKEN": "s"}
    settings, _ = parse_settings([], env)
    assert (settings.master_url, settings.worker_id, settings.token) == ("http://m", "w", "s")
    assert settings.heartbeat_interval_s is None and settings.parent_pid is None


def test_drain_timeout_and_kill_grace() -> None:
    env = {"CORRAL_MASTER_URL": "http://m", "CORRAL_WORKER_ID": "w", "CORRAL_WORKER_TOKEN": "s"}
    settings, _ = parse_settings([], env)
    assert (settings.drain_timeout_s, settings.kill_grace_s) == (30.0, 5.0)
    settings, _ = parse_settings([], {**env, "CORRAL_DRAIN_TIMEOUT_S": "7.5"})
    assert settings.drain_timeout_s == 7.5
    argv = ["--drain-timeout", "0", "--kill-grace", "0.5"]
    settings, _ = parse_settings(argv, {**env, "CORRAL_DRAIN_TIMEOUT_S": "7.5"})
    assert (settings.drain_timeout_s, settings.kill_grace_s) == (0.0, 0.5)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ([], {"CORRAL_WORKER_ID": "w", "CORRAL_WORKER_TOKEN": "s"}, "master URL"),
        (["--master", "http://m"], {"CORRAL_WORKER_TOKEN": "s"}, "worker id"),
        (["--master", "http://m", "--worker-id", "w"], {}, "CORRAL_WORKER_TOKEN"),
        (["--master", "m:1", "--worker-id", "w"], {"CORRAL_WORKER_TOKEN": "s"}, "http://host"),
        (["--master", "http://", "--worker-id", "w"], {"CORRAL_WORKER_TOKEN": "s"}, "http://host"),
        (
            ["--master", "http://m", "--worker-id", "w", "--heartbeat-interval", "0"],
            {"CORRAL_WORKER_TOKEN": "s"},
            "above zero",
        ),
        (
            ["--master", "http://m", "--worker-id", "w"],
            {"CORRAL_WORKER_TOKEN": "s", "CORRAL_DRAIN_TIMEOUT_S": "soon"},
            "CORRAL_DRAIN_TIMEOUT_S",
        ),
        (
            ["--master", "http://m", "--worker-id", "w", "--kill-grace", "-1"],
            {"CORRAL_WORKER_TOKEN": "s"},
            "must not be negative",
        ),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        parse_settings(argv, env)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_there_is_no_token_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--token" not in capsys.readouterr().out


def test_worker_imports_stay_lean() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "corral.worker", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert "corral.worker.main" in imported
    heavy = sorted(m for m in imported if m.split(".")[0] in FORBIDDEN)
    assert heavy == []

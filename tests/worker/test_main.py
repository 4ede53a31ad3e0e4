"""Command line and environment of ``corral worker``; the import graph stays lean."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corral.worker.main import parse_settings

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
    def env(**more: str) -> dict[str, str]:
        base = {"CORRAL_MASTER_URL": "http://m", "CORRAL_WORKER_ID": "w"}
        return {**base, "CORRAL_WORKER_TOKEN": "s", **more}

    settings, _ = parse_settings([], env())
    assert (settings.drain_timeout_s, settings.kill_grace_s) == (30.0, 5.0)
    settings, _ = parse_settings([], env(CORRAL_DRAIN_TIMEOUT_S="7.5"))
    assert settings.drain_timeout_s == 7.5
    argv = ["--drain-timeout", "0", "--kill-grace", "0.5"]
    settings, _ = parse_settings(argv, env(CORRAL_DRAIN_TIMEOUT_S="7.5"))
    assert (settings.drain_timeout_s, settings.kill_grace_s) == (0.0, 0.5)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ([], {"CORRAL_WORKER_ID": "w", "CORRAL_WORKER_TOKEN": "s"}, "master URL"),
        (["--master", "http://m"], {"CORRAL_WORKER_TOKEN": "s"}, "worker id"),
        (["--master", "http://m", "--worker-id", "w"], {}, "--token-file or --token-stdin"),
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
        (
            [
                "--master",
                "http://m",
                "--worker-id",
                "w",
                "--master-fingerprint",
                "SHA256:" + "0" * 64,
            ],
            {"CORRAL_WORKER_TOKEN": "s"},
            "need an https:// master URL",
        ),
        (
            ["--master", "https://m", "--worker-id", "w", "--master-fingerprint", "SHA256:AB"],
            {"CORRAL_WORKER_TOKEN": "s"},
            "64 hex digits",
        ),
        (
            ["--master", "https://m", "--worker-id", "w", "--master-ca", "/no/such/ca.pem"],
            {"CORRAL_WORKER_TOKEN": "s"},
            "--master-ca /no/such/ca.pem",
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


def test_no_option_takes_the_token_itself() -> None:
    # In a process of its own: main() makes its process non-dumpable.
    shown = subprocess.run(
        [sys.executable, "-m", "corral.worker", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = [line.strip() for line in shown.stdout.splitlines()]
    options = {line.split()[0].strip(",") for line in lines if line.startswith("--")}
    assert {o for o in options if o.startswith("--token")} == {"--token-file", "--token-stdin"}
    # No abbreviation either: --token VALUE is not --token-file VALUE.
    with pytest.raises(SystemExit) as caught:
        parse_settings(["--master", "http://m", "--worker-id", "w", "--token", "t"], {})
    assert caught.value.code == 2


BASE = ["--master", "http://m", "--worker-id", "w"]


def test_token_from_stdin_alone_or_with_secret_variables() -> None:
    settings, _ = parse_settings([*BASE, "--token-stdin"], {}, io.BytesIO(b"tok-1\n"))
    assert (settings.token, settings.secret_env) == ("tok-1", {})
    document = b'{"token": "tok-2", "secret_env": {"API_KEY": "k=1 2"}}'
    settings, _ = parse_settings([*BASE, "--token-stdin"], {}, io.BytesIO(document))
    assert (settings.token, settings.secret_env) == ("tok-2", {"API_KEY": "k=1 2"})
    assert "k=1 2" not in repr(settings) and "tok-2" not in repr(settings)


def test_token_file_is_read_then_deleted(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("tok-3\n")
    path.chmod(0o600)
    settings, _ = parse_settings([*BASE, "--token-file", str(path)], {})
    assert settings.token == "tok-3"
    assert not path.exists()


def test_token_file_others_may_read_is_refused_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "token"
    path.write_text("tok-4")
    path.chmod(0o640)
    with pytest.raises(SystemExit) as caught:
        parse_settings([*BASE, "--token-file", str(path)], {})
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "chmod 600" in err and "tok-4" not in err
    assert path.read_text() == "tok-4"


def test_token_in_the_environment_is_taken_out_of_it() -> None:
    env = {"CORRAL_WORKER_TOKEN": "tok-5", "OTHER": "x"}
    settings, _ = parse_settings(BASE, env)
    assert settings.token == "tok-5"
    assert env == {"OTHER": "x"}
    # Another source given: the environment's token is dropped all the same.
    env = {"CORRAL_WORKER_TOKEN": "tok-6"}
    settings, _ = parse_settings([*BASE, "--token-stdin"], env, io.BytesIO(b"tok-7"))
    assert settings.token == "tok-7" and env == {}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (b"", "the token alone on one line"),
        (b"two words", "the token alone on one line"),
        (b'{"token": "t", "other": 1}', '"token" and, optionally, "secret_env"'),
        (b'{"token": "t", "secret_env": {"A=B": "v"}}', "variable names to strings"),
        (b'{"token": "t", "secret_env": {"A": 1}}', "variable names to strings"),
        (b"{not json", "not a valid JSON object"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_token_input_is_a_usage_error_that_quotes_nothing(
    given: bytes, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        parse_settings([*BASE, "--token-stdin"], {}, io.BytesIO(given))
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "token from stdin" in err
    assert "words" not in err and "not json" not in err


def test_a_usage_error_leaves_the_token_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("tok-8")
    path.chmod(0o600)
    with pytest.raises(SystemExit):
        parse_settings(["--worker-id", "w", "--token-file", str(path)], {})
    assert path.read_text() == "tok-8"


def test_missing_token_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_settings([*BASE, "--token-file", str(tmp_path / "none")], {})
    assert "cannot open it: No such file or directory" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


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

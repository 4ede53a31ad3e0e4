"""The real worker as a subprocess, with its log in a file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from corral.protocol import ENV_MASTER_URL, ENV_PARENT_PID, ENV_TOKEN, ENV_WORKER_ID

from .fake_master import TOKEN


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any corral worker settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in (ENV_MASTER_URL, ENV_WORKER_ID, ENV_TOKEN, ENV_PARENT_PID)
    }
    env.update(extra)
    return env


class WorkerProcess:
    """``python -m corral.worker`` against a master, output to ``log_path``."""

    def __init__(
        self,
        log_path: Path,
        args: list[str],
        *,
        token: str | None = TOKEN,
        env: dict[str, str] | None = None,
    ) -> None:
        self.log_path = log_path
        # The token goes where a master puts it: on the worker's stdin.
        token_args = ["--token-stdin"] if token is not None else []
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "corral.worker", *token_args, *args],
                env=clean_env(**(env or {})),
                stdin=subprocess.PIPE if token is not None else subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if self.proc.stdin is not None:
            self.proc.stdin.write(token.encode() if token is not None else b"")
            self.proc.stdin.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        """Everything the worker wrote so far."""
        return self.log_path.read_text(errors="replace")

    def send(self, signum: int = signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 5.0) -> int:
        """The exit code, waiting up to ``timeout`` seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker still running after {timeout} s:\n{self.log()}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

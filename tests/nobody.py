"""User nobody, for tests of jobs and workers that run as another user than the tests."""

import functools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

import corral
from ancestry import SYSTEM_PYTHON

NOBODY = "nobody"
# The PYTHONPATH of a worker run by the system's interpreter: corral and psutil.
WORKER_PATH = ":".join(
    str(Path(module.__file__ or "").resolve().parents[1]) for module in (corral, psutil)
)


def nobody_uid() -> int | None:
    """Nobody's uid, if this host has the user."""
    try:
        return pwd.getpwnam(NOBODY).pw_uid
    except KeyError:
        return None


def cannot_switch() -> str | None:
    """Why jobs cannot be run as nobody here, or None if they can."""
    if os.geteuid() != 0:
        return "switching a job to another user needs root, and the tests do not run as root"
    if nobody_uid() is None:
        return "this host has no user nobody"
    return None


@functools.cache
def cannot_run_worker() -> str | None:
    """Why a worker cannot be run as nobody here, or None if it can."""
    why = cannot_switch()
    if why is not None:
        return why
    probe = [SYSTEM_PYTHON, "-c", "import corral.worker.main, corral.worker.metrics"]
    try:
        ran = subprocess.run(
            probe, env={"PYTHONPATH": WORKER_PATH}, capture_output=True, timeout=30, **as_nobody()
        )
    except OSError as exc:
        return f"{SYSTEM_PYTHON} cannot be run: {exc}"
    if ran.returncode != 0:
        return (
            f"user nobody cannot import corral and psutil from {WORKER_PATH} with {SYSTEM_PYTHON}"
        )
    return None


def as_nobody() -> dict[str, Any]:
    """Arguments of subprocess.Popen that start the process as nobody, with no other group."""
    user = pwd.getpwnam(NOBODY)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


@contextmanager
def nobodys_folder() -> Iterator[Path]:
    """A fresh folder that nobody owns (test folders are closed to other users)."""
    folder = Path(tempfile.mkdtemp(prefix="corral-nobody-"))
    try:
        os.chown(folder, nobody_uid() or 0, -1)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)

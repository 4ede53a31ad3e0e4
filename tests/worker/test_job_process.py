"""The pure parts of a job process: its argv, its environment, /proc start times."""

from __future__ import annotations

import os

import pytest

from corral.procfs import process_start_time as start_time
from corral.worker.job_process import (
    SpawnFailed,
    base_environment,
    job_argv,
    job_environment,
)

from .fake_master import assignment


def test_argv_is_the_command_or_a_shell_line() -> None:
    assert job_argv(assignment(1, ["echo", "a b"])) == ["echo", "a b"]
    assert job_argv(assignment(1, ["echo $HOME"], shell=True)) == ["/bin/sh", "-c", "echo $HOME"]
    with pytest.raises(SpawnFailed):
        job_argv(assignment(1, []))


def test_environment_drops_the_workers_settings_and_adds_the_jobs() -> None:
    worker_env = {"PATH": "/bin", "CORRAL_WORKER_TOKEN": "secret", "CORRAL_MASTER_URL": "x"}
    base = base_environment(worker_env)
    job = assignment(5, ["true"], attempt=2, env={"PATH": "/opt/bin", "CORRAL_CPU_IDS": "9"})
    assert job_environment(base, job, [0, 3]) == {
        "PATH": "/opt/bin",
        "CORRAL_JOB_ID": "5",
        "CORRAL_JOB_ATTEMPT": "2",
        "CORRAL_CPU_IDS": "0,3",  # the job cannot pretend to hold other CPUs
    }


def test_start_time_reads_field_22() -> None:
    started = start_time(os.getpid())
    assert isinstance(started, int) and started > 0
    assert start_time(2**22 + 1) is None

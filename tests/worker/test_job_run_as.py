"""Jobs with run_as, spawned by this (root) process: the user, its groups, and refusals."""

from __future__ import annotations

import grp
import os
import pwd

import pytest

from corral.worker.job_process import JobProcess, SpawnFailed
from nobody import NOBODY, cannot_switch

from .job_runs import StartJob, all_stdout, job, wait_exit

pytestmark = pytest.mark.skipif(cannot_switch() is not None, reason=str(cannot_switch()))
SHOW = ["/bin/sh", "-c", 'id -u; id -g; id -G; echo "$HOME $USER $LOGNAME"']


def run(
    start: StartJob, command: list[str], run_as: str | None, env: dict[str, str] | None = None
) -> list[str]:
    """The job's output lines once it has exited 0."""
    spec = job(command)
    spec["run_as"] = run_as
    spec["env"] = env or {}
    process = start(spec, None)
    out = all_stdout(process)
    assert wait_exit(process) == 0, out
    return out.splitlines()


def test_a_job_runs_as_the_user_with_its_groups_and_identity(start_job: StartJob) -> None:
    user = pwd.getpwnam(NOBODY)
    uid, gid, groups, names = run(start_job, SHOW, NOBODY)
    assert (int(uid), int(gid)) == (user.pw_uid, user.pw_gid)
    # Only the user's groups: none of the worker's (root's) is left.
    assert sorted(map(int, groups.split())) == sorted(os.getgrouplist(NOBODY, user.pw_gid))
    assert names == f"{user.pw_dir} {NOBODY} {NOBODY}"


def test_a_group_named_replaces_the_users_primary_one(start_job: StartJob) -> None:
    group = grp.getgrgid(1).gr_name  # daemon on Debian
    _, gid, groups, _ = run(start_job, SHOW, f"{NOBODY}:{group}")
    assert int(gid) == 1 and 1 in map(int, groups.split())


def test_the_jobs_own_environment_wins_over_the_users(start_job: StartJob) -> None:
    (*_, names) = run(start_job, SHOW, NOBODY, env={"HOME": "/tmp", "USER": "someone"})
    assert names == f"/tmp someone {NOBODY}"


def test_without_run_as_a_job_runs_as_the_worker(start_job: StartJob) -> None:
    uid, gid, groups, _ = run(start_job, SHOW, None)
    assert (int(uid), int(gid)) == (os.geteuid(), os.getegid())
    assert sorted(map(int, groups.split())) == sorted({os.getegid(), *os.getgroups()})


@pytest.mark.parametrize(
    ("run_as", "why"),
    [
        ("no-such-user-7", "cannot run as 'no-such-user-7': unknown user 'no-such-user-7'"),
        (f"{NOBODY}:no-such-group-7", "unknown group 'no-such-group-7' on this host"),
    ],
)
def test_an_unknown_user_or_group_fails_the_spawn_clearly(run_as: str, why: str) -> None:
    spec = job(["/bin/true"])
    spec["run_as"] = run_as
    with pytest.raises(SpawnFailed, match=why):
        JobProcess(spec, [], {"PATH": "/bin"}, None, None)

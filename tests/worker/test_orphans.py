"""The job ledger and the cleanup of job groups a dead worker left."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from corral.procfs import process_start_time as start_time
from corral.worker import orphans
from corral.worker.orphans import JobLedger, kill_orphans, read_ledger, state_dir

from .procs import wait_dead


def test_state_dir_is_private_and_follows_the_environment(tmp_path: Path) -> None:
    configured = tmp_path / "run" / "w1"
    assert state_dir("w1", {"CORRAL_WORKER_STATE_DIR": str(configured)}) == configured
    assert configured.stat().st_mode & 0o777 == 0o700
    default = state_dir("../odd/id", {})
    try:
        assert default.parent == Path(f"/tmp/corral-{os.getuid()}")
        assert default.name == "_odd_id"
        assert default.stat().st_mode & 0o777 == 0o700
    finally:
        default.rmdir()  # the shared parent stays: real workers may use it


def test_ledger_appends_and_rewrites_to_the_live_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orphans, "REWRITE_AFTER_ENDED", 3)
    path = tmp_path / "jobs.ledger"
    ledger = JobLedger(path)
    for pid in range(10, 15):
        ledger.add(pid, pid * 100)
    for pid in (10, 11):
        ledger.remove(pid)
    assert len(read_ledger(path)) == 5  # ended entries stay until a rewrite
    ledger.remove(12)
    assert read_ledger(path) == [(13, 1300), (14, 1400)]
    ledger.add(20, 2000)
    ledger.close()
    assert read_ledger(path) == [(13, 1300), (14, 1400), (20, 2000)]
    ledger = JobLedger(path)
    assert ledger.live == {} and read_ledger(path) == []  # a new ledger starts empty
    ledger.add(30, 3000)
    ledger.remove(30)
    ledger.close()
    assert path.read_text() == ""  # nothing live at exit: nothing left to clean up


def test_cleanup_kills_only_groups_whose_leader_has_the_recorded_start(tmp_path: Path) -> None:
    path = tmp_path / "jobs.ledger"
    target = subprocess.Popen(["sleep", "30"], start_new_session=True)
    bystander = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        started = start_time(target.pid)
        other = start_time(bystander.pid)
        assert started is not None and other is not None
        path.write_text(f"{target.pid} {started}\n{bystander.pid} {other + 1}\ngarbage\n")
        assert kill_orphans(path) == 1
        target.wait(5)
        wait_dead([target.pid])
        assert bystander.poll() is None
    finally:
        for proc in (target, bystander):
            proc.kill()
            proc.wait()
    assert kill_orphans(tmp_path / "missing") == 0

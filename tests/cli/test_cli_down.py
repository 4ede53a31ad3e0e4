"""``corral down`` stops a real master (and its workers) from another process, and waits."""

from pathlib import Path

from click.testing import CliRunner

from corral.cli import main
from master_process import MasterProcess, process_alive


def test_down_stops_the_master_gracefully_and_waits(tmp_path: Path) -> None:
    master = MasterProcess(tmp_path / "data", command="up").start()
    assert master.proc is not None
    try:
        worker_pid = master.wait_state("local-1", "running")["pid"]
        started = master.log()
        assert "local-1: stopped -> starting: auto-start" in started, "a new folder restores none"
        assert "alembic" not in started, "migrations are quiet unless -v"
        runner = CliRunner(env={"CORRAL_DATA_DIR": str(master.data_dir), "CORRAL_TOKEN": None})
        result = runner.invoke(main, ["--url", master.url, "down", "--timeout", "60"])
        assert result.exit_code == 0, result.output
        assert result.stderr == (
            f"stopping the master at {master.url} (pid {master.proc.pid})\nmaster stopped\n"
        )
        assert master.proc.poll() == 0, "the master had exited, cleanly, when down returned"
        assert not process_alive(worker_pid)
        assert "local-1: running -> stopping: master shutting down" in master.log()
        again = runner.invoke(main, ["--url", master.url, "down"])
        assert again.exit_code == 3
        assert again.stderr.startswith(f"no master running at {master.url} (looked in ")
    finally:
        master.stop()


def test_down_is_in_the_audit_trail(tmp_path: Path) -> None:
    master = MasterProcess(tmp_path / "data").start()
    try:
        env = {"CORRAL_DATA_DIR": str(master.data_dir), "CORRAL_TOKEN": None}
        result = CliRunner(env=env).invoke(main, ["--url", master.url, "down"])
        assert result.exit_code == 0, result.output
        restarted = MasterProcess(tmp_path / "data").start()
        try:
            entries = restarted.read("/audit")["entries"]
            assert any(e["route"] == "/api/v1/master/shutdown" for e in entries), entries
        finally:
            restarted.stop()
    finally:
        master.stop()

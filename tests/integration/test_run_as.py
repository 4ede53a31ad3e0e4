"""Jobs that run as another user, through a real master and worker running as root."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ancestry import ancestors, walk_ancestors
from corral.cli import main
from corral.master.tokens import Tokens
from master_api import JobsApi
from master_process import MasterFactory, MasterProcess
from nobody import NOBODY, cannot_switch, nobody_uid

pytestmark = pytest.mark.skipif(cannot_switch() is not None, reason=str(cannot_switch()))


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder any user may enter: only the data folder's own mode keeps a job out of it."""
    folder = Path(tempfile.mkdtemp(prefix="corral-open-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def master(open_folder: Path, start_master: MasterFactory) -> MasterProcess:
    """A master whose worker w1 runs jobs as root unless they ask for nobody."""
    master = start_master(open_folder / "data")
    master.create_worker("w1", cpus=2, allowed_run_as=[NOBODY])
    master.wait_state("w1", "running")
    return master


def test_a_job_as_nobody_cannot_enter_the_data_folder_and_its_output_is_kept(
    master: MasterProcess, open_folder: Path
) -> None:
    data = master.data_dir
    script = f'id -u; ls {open_folder} >/dev/null && echo "open: yes"; ls {data}; echo "data: $?"'
    jobs = JobsApi(master)
    done = jobs.wait(jobs.submit([script], shell=True, run_as=NOBODY)["id"])
    assert done["state"] == "succeeded" and done["run_as"] == NOBODY, done
    assert jobs.output(done["id"])[:3] == [str(nobody_uid()), "open: yes", "data: 2"]
    (denied, *_) = jobs.output(done["id"], "stderr")
    assert str(data) in denied and "Permission denied" in denied


def test_a_job_as_nobody_cannot_read_the_environment_of_its_worker_or_master(
    master: MasterProcess,
) -> None:
    jobs = JobsApi(master)
    done = jobs.wait(jobs.submit(walk_ancestors(), run_as=NOBODY)["id"])
    assert done["state"] == "succeeded", done
    assert master.proc is not None
    seen = ancestors(jobs.output(done["id"]), up_to=master.proc.pid)
    assert len(seen) == 2, "the job's worker, then the master"
    token = Tokens(master.data_dir).worker_token("w1")
    for ancestor in seen:
        assert ancestor["environ"] == ancestor["mem"] == "error: Permission denied"
        assert token not in ancestor["cmdline"] and "admin.token" not in ancestor["cmdline"]


def test_a_master_running_as_root_warns_and_status_says_whom_jobs_run_as(
    master: MasterProcess, start_master: MasterFactory
) -> None:
    warning = "running as root: the jobs of {} run as root"
    status = master.status("w1")
    assert (status["user"], status["job_user"]) == ("root", "root")
    assert warning.format("w1") in master.log()
    master.create_worker("sandboxed", cpus=1, run_as=NOBODY)
    sandboxed = master.wait_state("sandboxed", "running")
    assert (sandboxed["user"], sandboxed["job_user"]) == ("root", NOBODY)
    master.stop()
    again = start_master(master.data_dir)
    again.wait_state("w1", "running")
    started = again.log().split("corral master listening")[-1]
    (line,) = [line for line in started.splitlines() if "running as root" in line]
    assert warning.format("w1") in line, "sandboxed runs its jobs as nobody"


def test_a_worker_config_run_as_applies_to_jobs_that_name_nobody(master: MasterProcess) -> None:
    master.create_worker("sandboxed", cpus=1, run_as=NOBODY, labels={"box": "yes"})
    master.wait_state("sandboxed", "running")
    jobs = JobsApi(master)
    done = jobs.wait(jobs.submit(["id", "-un"], labels={"box": "yes"})["id"])
    assert done["worker_id"] == "sandboxed" and jobs.output(done["id"])[0] == NOBODY


def test_the_cli_submits_with_run_as_and_explains_refusals(master: MasterProcess) -> None:
    def corral(*args: str) -> tuple[int, str]:
        env = {"CORRAL_DATA_DIR": str(master.data_dir), "CORRAL_TOKEN": None}
        result = CliRunner(env=env).invoke(main, ["--url", master.url, *args])
        return result.exit_code, result.output

    code, said = corral("submit", "--run-as", NOBODY, "--wait", "--", "id", "-u")
    assert (code, said.splitlines()[-1]) == (0, str(nobody_uid())), said
    code, said = corral("submit", "--run-as", "root", "--", "id")
    assert code != 0 and "no configured worker lets its jobs run as 'root'" in said
    code, said = corral("submit", "--run-as", "ghost-7", "--", "id")
    assert code != 0 and "unknown user 'ghost-7'" in said

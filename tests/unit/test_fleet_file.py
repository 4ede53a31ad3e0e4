"""corral.toml: good files read as config fields, bad ones refused where they are wrong."""

from pathlib import Path

import pytest

from corral.cli.fleet_file import FleetFileError, load
from corral.settings import MasterSettings

GOOD = """
[master]
port = 8800
data_dir = "state"
lease_s = 7
log_backups = 2
stop_timeout_s = 12.5
database_url = "postgresql://corral@127.0.0.1/corral"
tls_cert = "tls/master.crt"
tls_key = "/etc/corral/master.key"

[workers.gpu]
cpus = 2
cpu_ids = [1, 0]
labels = { gpu = "a100" }
env = { MODE = "fast" }
secret_env = ["API_KEY"]
launcher = { docker_image = "corral:1" }
auto_start = false
allowed_run_as = ["nobody"]

[workers.batch-1]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "corral.toml"
    path.write_text(text)
    return path


def test_a_good_file_reads_as_settings_and_config_fields(tmp_path: Path) -> None:
    fleet = load(write(tmp_path, GOOD))
    settings = fleet.settings()
    assert settings.port == 8800 and settings.lease_s == 7.0 and settings.log_backups == 2
    assert settings.data_dir == tmp_path / "state"  # relative to the file's folder
    assert settings.tls_cert == tmp_path / "tls" / "master.crt"
    assert settings.tls_key == Path("/etc/corral/master.key")
    assert settings.stop_timeout_s == 12.5 and settings.heartbeat_interval_s == 1.0
    assert fleet.workers["gpu"]["cpu_ids"] == [0, 1]
    assert fleet.workers["batch-1"] == {}
    body = fleet.body("gpu", {"API_KEY": "s3cret"})
    assert body["secret_env"] == {"API_KEY": "s3cret"} and body["labels"] == {"gpu": "a100"}


def test_an_empty_file_changes_nothing(tmp_path: Path) -> None:
    fleet = load(write(tmp_path, ""))
    assert fleet.settings() == MasterSettings() and fleet.workers == {}


def test_a_secret_missing_from_the_environment_is_named(tmp_path: Path) -> None:
    fleet = load(write(tmp_path, GOOD))
    with pytest.raises(FleetFileError) as caught:
        fleet.body("gpu", {})
    said = "[workers.gpu] secret_env: API_KEY not set in the environment"
    assert str(caught.value).endswith(said)


KNOWN_MASTER = ", ".join(
    ["data_dir", "host", "port", "database_url", "heartbeat_interval_s", "lease_s"]
)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[workers.gpu]\ncpus = 0", "[workers.gpu] cpus: must be an integer ≥ 1"),
        ('[workers.gpu]\ncpus = "2"', "[workers.gpu] cpus: must be an integer ≥ 1"),
        ("[workers.gpu]\ncpus = 2.0", "[workers.gpu] cpus: must be an integer ≥ 1"),
        ("[workers.gpu]\ncpus = true", "[workers.gpu] cpus: must be an integer ≥ 1"),
        ("[workers.gpu]\ncpus = 5000", "[workers.gpu] cpus: must be an integer from 1 to 4096"),
        ("[workers.gpu]\nport = 0", "[workers.gpu] port: must be an integer ≥ 1"),
        (
            '[workers.gpu]\nsecret_env = { API_KEY = "hunter2" }',
            '[workers.gpu] secret_env: name the variables only, such as ["API_KEY"]',
        ),
        ('[workers.gpu]\nsecret_env = ["1BAD"]', "[workers.gpu] secret_env: not a variable name"),
        ('[workers.gpu]\nsecret_env = "API_KEY"', "[workers.gpu] secret_env: must be a list"),
        ("[workers.gpu]\ncpu_ids = [0, 0]", "[workers.gpu] cpu_ids: must name CPUs from 0 up"),
        ("[workers.gpu]\ncpu_ids = []", "[workers.gpu] cpu_ids: must be a list of CPU numbers"),
        ('[workers.gpu]\ndeployment_type = "vm"', "[workers.gpu] deployment_type: must be one of"),
        ("[workers.gpu]\nlabels = { a = 1 }", "[workers.gpu] labels: must be a table of strings"),
        ('[workers.gpu]\nauto_start = "no"', "[workers.gpu] auto_start: must be true or false"),
        (
            '[workers.gpu]\nlauncher = { image = "x" }',
            "[workers.gpu] launcher: unknown image: known are ssh_user",
        ),
        ("[workers.gpu]\ncpu = 2", "[workers.gpu] unknown key cpu: known keys are name, "),
        ("[workers.GPU]", "[workers.GPU]: not a worker id"),
        ("workers = 3", "workers must be tables"),
        ("[workers]\ngpu = 3", "workers.gpu must be a table"),
        ("[master]\nbind = '0.0.0.0'", f"[master] unknown key bind: known keys are {KNOWN_MASTER}"),
        ("[master]\nport = -1", "[master] port: must be an integer ≥ 0"),
        ("[master]\nlease_s = 'long'", "[master] lease_s: must be a number ≥ 0"),
        ("[master]\ncreate_default_worker = true", "[master] unknown key create_default_worker"),
        ("[masters]", "unknown table masters: use [master] and [workers.ID]"),
        ("[workers.gpu\ncpus = 1", "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_the_table_and_the_field(
    tmp_path: Path, text: str, error: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FleetFileError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: "), caught.value
    assert error in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FleetFileError, match=r"corral\.toml: cannot read it"):
        load(tmp_path / "corral.toml")

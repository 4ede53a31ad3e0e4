"""The whole OpenAPI document, fuzzed by schemathesis against a real master.

Schemathesis reads the document the master serves, generates valid and invalid
requests for every operation (every boundary of every field, then random data, then
chains of calls linked by the ids they return), and checks every answer: no 5xx, a
documented status, a body that matches its documented schema, valid requests
accepted and invalid ones refused. The seed is fixed and the random examples per
operation few, so the run takes about half a minute.

Nothing the fuzzer sends can run. The master demands the admin token (the fuzzer
has it) and its one worker config does not start by itself; the hooks in
fuzz_hooks.py turn off auto-start and auto-restart in every config the fuzzer writes,
and every worker the master launches all the same (a start asked by hand) exits at
once, before it registers, so every job stays pending. The hooks also make every
well-formed deployment type local, every CPU count or set one the host has, and every
well-formed user name one this host has: which launchers, CPUs and users exist is the
host's to say, not the document's. Left out: the
agent routes, which answer only a worker's own token, and the master's shutdown, which
would end the run (tests/cli/test_cli_down.py covers it). The logs routes are fuzzed
without ``follow``, whose streams last as long as the job or the client, and the wait
route without waiting.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from master_process import HOOKS, MasterProcess

SEED = 20261201
EXAMPLES = 3
HERE = Path(__file__).resolve().parent
# A body over the size limit is refused with 413 before anything reads it. 503 is a
# documented answer, not a crash: an unhealthy worker's health, or a database that
# cannot answer in time (a loaded machine can make a batch of 1000 jobs that slow); any
# other 5xx fails. Job submissions have their own acceptance check
# (fuzz_hooks.valid_jobs_are_accepted); a batch's jobs are the jobs of POST /jobs,
# whose every boundary is already covered. The history refuses worker series asked
# with fleet ones (or fleet series with a worker), which no schema of query
# parameters can say: its valid requests are checked in tests/api/test_metrics_history.py.
CONFIG = """
[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "503"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "404", "405", "409", "413", "422"]

[[operations]]
include-method = "POST"
include-path-regex = "^/api/v1/jobs(/batch)?$"
checks.positive_data_acceptance.enabled = false

[[operations]]
include-name = "POST /api/v1/jobs/batch"
phases.coverage.enabled = false

[[operations]]
include-name = "POST /api/v1/master/shutdown"
enabled = false
"""


@pytest.fixture
def fuzzed_master(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MasterProcess]:
    """A master demanding the admin token, whose only worker config never starts by itself."""
    # A worker started by hand exits before it could take a job.
    monkeypatch.setenv("PYTHONPATH", HOOKS)
    # It checks that every route refuses a missing or wrong token, many times over.
    master = MasterProcess(
        tmp_path / "data", test_workers_exit=3, auth_failures_per_minute=1_000_000
    ).start()
    try:
        master.create_worker("idle", cpus=1, auto_start=False, auto_restart=False)
        yield master
    finally:
        master.stop()


# Half a minute alone; the run itself may take up to 240 s on a loaded machine.
@pytest.mark.timeout(300)
def test_every_operation_answers_as_its_document_says(
    fuzzed_master: MasterProcess, tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    argv = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        fuzzed_master.url + "/openapi.json",
        "--header",
        "Authorization:" + fuzzed_master.api.headers["Authorization"],
        "--exclude-path-regex",
        "^/api/v1/agent/",
        "--seed",
        str(SEED),
        "--max-examples",
        str(EXAMPLES),
        # One request at a time: this version's threaded runner broke in its coverage phase.
        "--workers",
        "1",
        "--request-timeout",
        "10",
        # Its health checks judge how fast data is generated, which a loaded machine skews.
        "--suppress-health-check",
        "all",
    ]
    env = {**os.environ, "PYTHONPATH": str(HERE), "SCHEMATHESIS_HOOKS": "fuzz_hooks"}
    env["NO_COLOR"] = "1"
    # In its own folder: nothing it caches or learns carries over to the next run.
    run = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Authentication failed" not in run.stdout, run.stdout
    configs = fuzzed_master.read("/worker-configs")
    assert not [c for c in configs if c["auto_start"] or c["auto_restart"]], configs
    # No worker ever registered, so no job ever ran.
    for config in configs:
        assert fuzzed_master.status(config["worker_id"])["instance_id"] is None, config
    ran = [j for j in fuzzed_master.read("/jobs", params={"limit": 1000})["jobs"] if j["attempt"]]
    assert not ran, ran

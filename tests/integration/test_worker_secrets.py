"""A job cannot find its worker's token or secrets in the processes above it."""

import json
import secrets

from ancestry import ancestors, walk_ancestors
from corral.master.tokens import Tokens
from master_api import JobsApi
from master_process import MasterFactory


def test_no_ancestor_of_a_job_holds_the_token_or_a_secret(start_master: MasterFactory) -> None:
    # An admin token in the master's environment, as a user of the CLI may have it.
    admin = "admin-" + secrets.token_hex(8)
    master = start_master(token=admin)
    secret = "vault-" + secrets.token_hex(8)
    master.create_worker("w1", secret_env={"VAULT_PASSWORD": secret})
    worker = master.wait_state("w1", "running")
    jobs = JobsApi(master)
    show_secret = ["/bin/sh", "-c", 'printf "%s\\n" "$VAULT_PASSWORD"']
    assert secret in jobs.output(jobs.wait(jobs.submit(show_secret)["id"])["id"])

    job = jobs.wait(jobs.submit(walk_ancestors())["id"])
    assert job["state"] == "succeeded", job
    assert master.proc is not None
    seen = ancestors(jobs.output(job["id"]), up_to=master.proc.pid)
    assert [s["pid"] for s in seen[:1]] == [worker["pid"]]
    assert admin not in seen[0]["environ"], "the master's own secrets stay with it"
    token = Tokens(master.data_dir).worker_token("w1")
    for ancestor in seen:
        # This master and its jobs run as root here: every file is open to the job.
        assert "error" not in ancestor["environ"], ancestor
        everything = json.dumps(ancestor)
        assert token not in everything and secret not in everything
        assert "admin.token" not in everything and "secret.key" not in everything
        assert "CORRAL_WORKER_TOKEN" not in ancestor["environ"]

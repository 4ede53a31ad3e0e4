"""The client's jobs methods against a real master and a real worker."""

import pytest

from corral.client import ApiError, Client

# The package's tests share one master (conftest.py): run them in one test process.
pytestmark = pytest.mark.xdist_group("client-master")

SH = "/bin/sh"


def test_submit_wait_and_read_the_output(client: Client) -> None:
    job = client.submit([SH, "-c", "echo out; echo err >&2; exit 3"], env={"K": "v"})
    assert job.id > 0 and not job.finished and job.env == {"K": "v"}
    done = client.wait(job.id, timeout=30)
    assert done.state == "failed" and done.exit_code == 3 and done.finished
    assert client.logs(job.id) == ["out"]
    assert client.logs(job.id, "stderr") == ["err"]
    assert client.get(job.id) == done


def test_following_yields_every_line_then_ends_with_the_job(client: Client) -> None:
    job = client.submit([SH, "-c", "for i in 1 2 3; do echo line $i; sleep 0.05; done"])
    assert list(client.follow(job.id)) == ["line 1", "line 2", "line 3"]
    assert client.get(job.id).state == "succeeded"


def test_a_shell_command_is_one_string(client: Client) -> None:
    job = client.submit("echo $((6 * 7)) | tr 4 x", shell=True)
    assert client.wait(job.id, timeout=30).state == "succeeded"
    assert client.logs(job.id) == ["x2"]


def test_the_same_idempotency_key_gives_the_same_job(client: Client) -> None:
    first = client.submit(["true"], idempotency_key="once")
    again = client.submit(["true"], idempotency_key="once")
    assert again.id == first.id


def test_submit_many_and_page_through_them_newest_first(client: Client) -> None:
    made = client.submit_many([{"command": ["true"], "account": "paging"} for _ in range(5)])
    ids = [j.id for j in made]
    assert ids == sorted(ids)
    listed = [j.id for j in client.jobs(account="paging", page_size=2)]
    assert listed == ids[::-1]
    assert [j.id for j in client.jobs(account="paging", limit=3, page_size=2)] == ids[:1:-1]
    for job_id in ids:
        client.wait(job_id, timeout=30)
    assert {j.state for j in client.jobs(account="paging", state=["succeeded"])} == {"succeeded"}


def test_wait_times_out_then_cancel_and_retry(client: Client) -> None:
    job = client.submit(["sleep", "30"])
    with pytest.raises(TimeoutError, match=f"job {job.id} still"):
        client.wait(job.id, timeout=0.3)
    client.cancel(job.id)
    assert client.wait(job.id, timeout=30).state == "cancelled"
    with pytest.raises(ApiError) as caught:
        client.cancel(job.id)
    assert caught.value.status == 409
    assert not client.retry(job.id).finished
    client.cancel(job.id)
    assert client.wait(job.id, timeout=30).state == "cancelled"


def test_bad_input_and_missing_jobs_are_api_errors(client: Client) -> None:
    with pytest.raises(ApiError) as caught:
        client.submit(["true"], cpus=0)
    assert caught.value.status == 422 and "cpus" in str(caught.value)
    with pytest.raises(ApiError) as missing:
        client.get(10**9)
    assert missing.value.status == 404

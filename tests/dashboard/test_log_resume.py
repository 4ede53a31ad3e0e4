"""The log viewer's streams resume from a Last-Event-ID with no line lost or repeated."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from master_process import MasterProcess
from waiting import wait_for

pytestmark = pytest.mark.xdist_group("dashboard-resume")
Event = tuple[str, str, str]  # kind, id, data


def events(client: httpx.Client, path: str, last_id: str = "") -> Iterator[Event]:
    """Server-sent events of one stream, parsed; the stream closes when the caller stops."""
    headers = {"Last-Event-ID": last_id} if last_id else {}
    with client.stream("GET", path, headers=headers) as answer:
        assert answer.status_code == 200, answer.read()
        kind, event_id, data = "message", "", ""
        for line in answer.iter_lines():
            if not line:
                if data:
                    yield kind, event_id, json.loads(data) if kind != "end" else data
                kind, data = "message", ""
            elif line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("id: "):
                event_id = line[len("id: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :] or " "


@pytest.fixture
def client(master: MasterProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=master.url, headers=master.auth(), timeout=30) as c:
        yield c


def test_job_output_resumes_where_the_reader_was(
    master: MasterProcess, client: httpx.Client, tmp_path: Path
) -> None:
    master.create_worker("resumer")
    master.wait_state("resumer", "running")
    gate, done = tmp_path / "gate", tmp_path / "done"
    script = (
        f"echo a; echo b; while [ ! -e {gate} ]; do sleep 0.02; done; echo c; "
        f"while [ ! -e {done} ]; do sleep 0.02; done; echo d"
    )
    job = master.api.post("/jobs", json={"command": ["sh", "-c", script]}).json()
    path = f"/ui/jobs/{job['id']}/output"
    seen, last_id = "", ""
    for kind, event_id, data in events(client, path):
        assert kind == "stdout"
        seen, last_id = seen + data, event_id
        if seen == "a\nb\n":
            break
    gate.touch()

    def printed_c() -> bool:
        r = master.api.get(f"/jobs/{job['id']}/logs")
        return "c" in r.json()["lines"]

    wait_for(printed_c, what="the job's third line stored")
    rest = ""
    for kind, _, data in events(client, path, last_id):
        if kind == "end":
            break
        rest += data
        if rest == "c\n":
            done.touch()
    assert rest == "c\nd\n", "neither a line lost nor one repeated"


def test_worker_lines_resume_after_the_last_one_seen(
    master: MasterProcess, client: httpx.Client
) -> None:
    master.create_worker("talker")
    master.wait_state("talker", "running")
    path = "/ui/workers/talker/output?tail=2"
    first_two = []
    for kind, event_id, data in events(client, path):
        first_two.append((kind, event_id, data))
        if len(first_two) == 2:
            break
    (_, first_id, _), (kind, _, second) = first_two
    again = next(events(client, path, first_id))
    assert again[0] == kind and again[2] == second

"""The scheduler's safety net places what no event placed, and nothing twice."""

from pathlib import Path

from corral.domain.jobs import JobState
from corral.master.jobs.safety_net import safety_pass
from master.test_scheduler import Rig, assigned_ids, run, spec, worker


def test_a_pass_places_a_job_no_event_placed(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        (job,) = await r.submit(spec())  # no worker yet: it stays pending
        ws = worker()
        # A slot that appeared without its event (worker_up would have scheduled).
        r.sched.slots[ws.worker_id] = ws
        assert safety_pass(r.sched) == 1
        assert job.state is JobState.ASSIGNED and assigned_ids(ws) == [(job.id, 1)]
        assert safety_pass(r.sched) == 0, "a placed job is not placed again"

    run(body, tmp_path)

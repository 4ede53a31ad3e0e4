"""The client rides out a master restart: a follow goes on where it was, a wait goes on."""

import signal
import threading
from pathlib import Path

from corral.client import Client
from master_process import MasterFactory
from waiting import wait_for


def test_follow_and_wait_survive_a_master_restart(
    start_master: MasterFactory, tmp_path: Path
) -> None:
    first = start_master()
    first.create_worker("w1", restart_delay_ms=0)
    first.wait_state("w1", "running")
    go = tmp_path / "go"
    # Attempt 1 prints and waits to be killed with its master; attempt 2 prints and ends.
    script = (
        'echo "attempt $CORRAL_JOB_ATTEMPT"; '
        f'[ "$CORRAL_JOB_ATTEMPT" = 1 ] && touch {go} && sleep 60; echo done'
    )
    seen: list[str] = []
    with Client(first.url, data_dir=first.data_dir, reconnect_s=30) as client:
        job = client.submit(script, shell=True, max_attempts=2)
        follower = threading.Thread(target=lambda: seen.extend(client.follow(job.id)))
        follower.start()
        wait_for(lambda: go.exists() and seen, what="attempt 1 running and followed")
        first.signal(signal.SIGKILL)
        first.wait_exit()
        start_master(first.data_dir, port=first.port)
        follower.join(timeout=60)
        assert not follower.is_alive()
        finished = client.wait(job.id, timeout=30)
    assert finished.state == "succeeded" and finished.attempt == 2
    assert seen == ["attempt 1", "[corral: attempt 2]", "attempt 2", "done"], seen

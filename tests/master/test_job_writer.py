"""The job writer keeps a batch while the database cannot be reached, and commits it later."""

import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from corral.domain.jobs import JobState
from master.test_scheduler import Rig, run, spec


def test_a_batch_survives_a_dropped_connection(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(r: Rig) -> None:
        (first,) = await r.submit(spec())  # the writer now holds an open connection
        with r.db.engine.connect() as admin:
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        with caplog.at_level(logging.WARNING, logger="corral.master"):
            (second,) = await r.submit(spec())
        assert "database unreachable" in caplog.text
        for job in (first, second):
            assert (await r.stored(job.id)).state is JobState.PENDING

    run(body, tmp_path, pg_url)

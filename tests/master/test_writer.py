"""The writer: batches kept while the database is away, submits withdrawn past their deadline."""

import asyncio
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from corral.domain.jobs import JobState
from corral.errors import UnavailableError
from corral.master.writer import Writer
from master.test_scheduler import (
    Rig,
    assigned_ids,
    finished,
    report,
    run,
    spec,
    started,
    until,
    worker,
)


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
        assert "database unavailable" in caplog.text
        for job in (first, second):
            assert (await r.stored(job.id)).state is JobState.PENDING

    run(body, tmp_path, pg_url)


@contextmanager
def locked(r: Rig) -> Iterator[None]:
    """Another process's connection holds SQLite's write lock meanwhile."""
    path = r.db.engine.url.database
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("COMMIT")
        holder.close()


def test_a_submit_the_database_cannot_store_in_time_leaves_nothing(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker()
        r.sched.worker_up(ws)
        with locked(r):
            began = time.monotonic()
            with pytest.raises(UnavailableError):
                await r.submit(spec())
            assert time.monotonic() - began < 2.5
            assert r.sched.jobs == {} and ws.slot.free == ws.slot.capacity
            assert assigned_ids(ws) == []
            with pytest.raises(UnavailableError):  # known down: refused at once
                await r.submit(spec())
        await until(lambda: r.db.health.ok, 10.0)
        (kept,) = await r.submit(spec())
        await r.writer.flush()
        stored = await r.db.run(r.db.jobs.list)
        assert [j.id for j in stored] == [kept.id]

    run(body, tmp_path)


def test_changes_wait_for_the_database_and_are_written_whole(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        ws = worker()
        r.sched.worker_up(ws)
        (job,) = await r.submit(spec())
        with locked(r):
            report(r, ws, started(job, [0]), finished(job, 0))
            assert not await r.writer.flush(0.5)
            assert r.writer.backlog().changes > 0
        assert await r.writer.flush(10.0)
        got = await r.stored(job.id)
        assert (got.state, got.cpu_ids, got.started_at is not None) == (
            JobState.SUCCEEDED,
            [0],
            True,
        )
        (attempt,) = await r.db.run(r.db.jobs.attempts, job.id)
        assert attempt.state is JobState.SUCCEEDED

    run(body, tmp_path)


def test_events_past_the_bound_are_counted_and_said(tmp_path: Path) -> None:
    async def body(r: Rig) -> None:
        writer = Writer(r.db, max_logs=5)
        loop = asyncio.create_task(writer.run())
        try:
            with locked(r):
                for n in range(12):
                    writer.log("w1", f"event {n}")
                assert not await writer.flush(0.3)
                assert writer.backlog().logs_not_kept == {"w1": 7}
            assert await writer.flush(10.0)
        finally:
            loop.cancel()
        rows = await r.db.run(r.db.logs.list, "w1", limit=100)
        messages = [row.message for row in rows]
        assert "7 events not recorded: the database was unavailable" in messages
        assert sum(m.startswith("event ") for m in messages) == 5

    run(body, tmp_path)

"""Outbox: order, merging of output, the cap on output waiting, putting batches back."""

from __future__ import annotations

from corral.protocol import JobEvent
from corral.worker.outbox import Outbox, dropped_marker


def finished(job_id: int) -> JobEvent:
    return {"type": "finished", "job_id": job_id, "attempt": 1, "at": 1.0, "exit_code": 0}


def started(job_id: int) -> JobEvent:
    return {"type": "started", "job_id": job_id, "attempt": 1, "at": 1.0, "pid": 1, "cpu_ids": []}


def test_consecutive_output_of_a_stream_merges_up_to_the_chunk_size() -> None:
    outbox = Outbox(chunk_chars=10)
    outbox.put(started(1))
    outbox.put_output((1, 1), "stdout", "abc")
    outbox.put_output((1, 1), "stdout", "def")
    outbox.put_output((1, 1), "stderr", "err")
    outbox.put_output((1, 1), "stderr", "0123456789abc")
    outbox.put(finished(1))
    batch = outbox.take()
    assert [(e["type"], e.get("data")) for e in batch] == [
        ("started", None),
        ("output", "abcdef"),
        ("output", "err"),
        ("output", "0123456789"),
        ("output", "abc"),
        ("finished", None),
    ]


def test_output_past_the_cap_is_dropped_and_marked() -> None:
    outbox = Outbox(chunk_chars=100, max_pending_chars=10)
    outbox.put_output((1, 1), "stdout", "12345678")
    outbox.put_output((1, 1), "stdout", "abcdef")  # would pass the cap: dropped
    outbox.put_output((2, 1), "stdout", "other")  # another job has its own cap
    batch = outbox.take()
    outbox.settle(batch, delivered=True)
    outbox.put_output((1, 1), "stdout", "after")  # room again: the marker comes first
    outbox.put_output((1, 1), "stdout", "123456789")  # dropped again
    outbox.put(finished(1))  # the marker comes before the end
    data = [e.get("data") for e in batch + outbox.take()]
    assert data == ["12345678", "other", dropped_marker(6) + "after", dropped_marker(9), None]


def test_an_undelivered_batch_goes_back_to_the_front() -> None:
    outbox = Outbox()
    outbox.put(started(1))
    batch = outbox.take()
    outbox.put(finished(1))
    assert not outbox.wait_empty(0)
    outbox.settle(batch, delivered=False)
    assert [e["type"] for e in outbox.take()] == ["started", "finished"]


def test_discard_and_clear_forget_events() -> None:
    outbox = Outbox()
    for job_id in (1, 2):
        outbox.put(started(job_id))
        outbox.put_output((job_id, 1), "stdout", "x")
    outbox.discard([(1, 1)])
    assert [e["job_id"] for e in outbox.take()] == [2, 2]
    outbox.put(finished(2))
    outbox.clear()
    assert len(outbox) == 0


def test_take_waits_for_events_or_its_condition() -> None:
    outbox = Outbox()
    assert outbox.take(until=lambda: True) == []
    assert outbox.wait_empty(0)

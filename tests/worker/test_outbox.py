"""Outbox: batches sized in bytes on the wire, offsets, flow control, nothing dropped."""

from __future__ import annotations

from corral.protocol import JobEvent
from corral.worker.outbox import ENVELOPE_BYTES, Outbox, encode, split_to_fit


def finished(job_id: int) -> JobEvent:
    return {"type": "finished", "job_id": job_id, "attempt": 1, "at": 1.0, "exit_code": 0}


def started(job_id: int) -> JobEvent:
    return {"type": "started", "job_id": job_id, "attempt": 1, "at": 1.0, "pid": 1, "cpu_ids": []}


def drain(outbox: Outbox) -> list[JobEvent]:
    """Every event, batch by batch, each batch delivered."""
    events: list[JobEvent] = []
    while len(outbox):
        batch = outbox.take()
        outbox.settle(batch, delivered=True)
        events += batch
    return events


def output_of(events: list[JobEvent], stream: str = "stdout") -> str:
    return "".join(e["data"] for e in events if e["type"] == "output" and e["stream"] == stream)


def test_split_to_fit_counts_escapes_and_utf8() -> None:
    for text in ("\U0001f600" * 5000, "x\n" * 30000, "é\x01" * 9000, "plain " * 9000):
        pieces = split_to_fit(text, 4096)
        assert "".join(pieces) == text
        assert all(len(encode(p)) <= 4096 for p in pieces)
        assert len(encode(pieces[0])) > 3000, "pieces are not needlessly small"


def test_every_batch_fits_on_the_wire_however_the_output_escapes() -> None:
    outbox = Outbox(chunk_bytes=8192, max_batch_bytes=32768)
    text = "\U0001f600" * 20000 + "é\n\x00" * 20000
    outbox.put(started(1))
    outbox.put_output((1, 1), "stdout", text)
    outbox.put(finished(1))
    events: list[JobEvent] = []
    while len(outbox):
        batch = outbox.take()
        body = {"worker_id": "w", "instance_id": "i" * 36, "events": batch, "wait_s": 0.0}
        assert len(encode(body)) <= 32768
        outbox.settle(batch, delivered=True)
        events += batch
    assert output_of(events) == text
    assert events[0]["type"] == "started" and events[-1]["type"] == "finished"


def test_offsets_number_the_bytes_of_each_stream() -> None:
    outbox = Outbox(chunk_bytes=64)
    outbox.put_output((1, 1), "stdout", "héllo " * 20)
    outbox.put_output((1, 1), "stderr", "oops")
    outbox.put_output((1, 1), "stdout", "end")
    events = drain(outbox)
    at = 0
    for event in (e for e in events if e["stream"] == "stdout"):
        assert event["offset"] == at
        at += len(event["data"].encode())
    assert at == len(("héllo " * 20 + "end").encode())
    assert [e["offset"] for e in events if e["stream"] == "stderr"] == [0]


def test_consecutive_output_of_a_stream_merges_up_to_the_chunk_size() -> None:
    outbox = Outbox(chunk_bytes=ENVELOPE_BYTES + 100)
    outbox.put(started(1))
    outbox.put_output((1, 1), "stdout", "abc")
    outbox.put_output((1, 1), "stdout", "def")
    outbox.put_output((1, 1), "stderr", "err")
    outbox.put(finished(1))
    batch = outbox.take()
    assert [(e["type"], e.get("data")) for e in batch] == [
        ("started", None),
        ("output", "abcdef"),
        ("output", "err"),
        ("finished", None),
    ]


def test_an_undelivered_batch_goes_again_whole_and_in_order() -> None:
    outbox = Outbox()
    outbox.put(started(1))
    outbox.put_output((1, 1), "stdout", "first")
    batch = outbox.take()
    outbox.put_output((1, 1), "stdout", "second")  # a taken chunk is not grown
    outbox.put(finished(1))
    assert not outbox.wait_empty(0)
    outbox.settle(batch, delivered=False)
    again = outbox.take()
    assert [(e["type"], e.get("data"), e.get("offset")) for e in again] == [
        ("started", None, None),
        ("output", "first", 0),
        ("output", "second", 5),
        ("finished", None, None),
    ]


def test_an_end_is_not_held_behind_another_jobs_output() -> None:
    outbox = Outbox(chunk_bytes=4096, max_batch_bytes=16384)
    outbox.put_output((1, 1), "stdout", "x" * 200_000)  # many batches' worth
    outbox.put(started(2))
    outbox.put(finished(2))
    first = outbox.take()
    kinds = [(e["job_id"], e["type"]) for e in first]
    assert (2, "started") in kinds and (2, "finished") in kinds
    assert (1, "finished") not in kinds


def test_an_end_follows_all_of_its_own_output() -> None:
    outbox = Outbox(chunk_bytes=4096, max_batch_bytes=16384)
    outbox.put_output((1, 1), "stdout", "y" * 100_000)
    outbox.put(finished(1))
    batches = []
    while len(outbox):
        batch = outbox.take()
        outbox.settle(batch, delivered=True)
        batches.append(batch)
    assert len(batches) > 3
    assert all(e["type"] == "output" for b in batches[:-1] for e in b)
    assert batches[-1][-1]["type"] == "finished"
    assert output_of([e for b in batches for e in b]) == "y" * 100_000


def test_too_much_waiting_output_pauses_the_attempt_until_there_is_room() -> None:
    resumed: list[tuple[int, int]] = []
    outbox = Outbox(chunk_bytes=1024, max_batch_bytes=4096, high_bytes=8192, low_bytes=2048)
    outbox.on_room = resumed.append
    outbox.put_output((1, 1), "stdout", "z" * 4000)
    assert not outbox.over((1, 1))
    outbox.put_output((1, 1), "stdout", "z" * 6000)
    assert outbox.over((1, 1)) and not outbox.over((2, 1))
    outbox.settle(outbox.take(), delivered=True)
    assert resumed == []  # still above the low mark
    drain(outbox)
    assert resumed == [(1, 1)]


def test_a_report_refused_as_too_large_is_sent_in_smaller_pieces() -> None:
    outbox = Outbox(chunk_bytes=64 * 1024, max_batch_bytes=256 * 1024)
    text = "w" * 300_000
    outbox.put_output((1, 1), "stdout", text)
    batch = outbox.take()
    outbox.refused(batch, 413)
    assert outbox.max_batch_bytes == 128 * 1024
    events = drain(outbox)
    assert output_of(events) == text
    assert all(len(encode(e)) <= 64 * 1024 for e in events)


def test_a_refused_batch_is_halved_until_the_one_event_at_fault_is_dropped() -> None:
    outbox = Outbox()
    for job_id in range(1, 9):
        outbox.put(started(job_id))
    assert len(outbox.take()) == 8
    outbox.refused([], 422)
    assert len(outbox.take()) == 4
    outbox.settle([], delivered=True)
    assert len(outbox) == 4
    outbox.take()
    outbox.refused([], 422)
    outbox.take()
    outbox.refused([], 422)
    only = outbox.take()
    assert len(only) == 1
    outbox.refused(only, 422)  # one event refused on its own: that one goes
    assert len(outbox) == 3


def test_discard_and_clear_forget_events() -> None:
    outbox = Outbox()
    for job_id in (1, 2):
        outbox.put(started(job_id))
        outbox.put_output((job_id, 1), "stdout", "x")
    outbox.discard([(1, 1)])
    assert [e["job_id"] for e in outbox.take()] == [2, 2]
    outbox.settle([], delivered=False)
    outbox.put(finished(2))
    outbox.clear()
    assert len(outbox) == 0


def test_a_delivered_end_is_acknowledged() -> None:
    ends: list[tuple[int, int]] = []
    outbox = Outbox()
    outbox.on_end_delivered = ends.append
    outbox.put(finished(3))
    batch = outbox.take()
    outbox.settle(batch, delivered=False)
    assert ends == []
    outbox.settle(outbox.take(), delivered=True)
    assert ends == [(3, 1)]


def test_take_waits_for_events_or_its_condition() -> None:
    outbox = Outbox()
    assert outbox.take(until=lambda: True) == []
    outbox.settle([], delivered=True)
    assert outbox.wait_empty(0)

"""ResourceTracker and its observers: exclusivity, accounts, notification outside the lock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable

import pytest

from corral.worker.resource_observers import AlertObserver, LoggingObserver, MetricsObserver
from corral.worker.resources import Allocation, ResourceTracker, Snapshot


def test_hands_out_lowest_free_ids_and_takes_them_back() -> None:
    tracker = ResourceTracker([3, 1, 2, 0])
    assert tracker.allocate("a", 2) == [0, 1]
    assert tracker.allocate("b", 3) is None
    assert tracker.allocate("b", 2) == [2, 3]
    assert tracker.snapshot().used_ids == {0, 1, 2, 3}
    released = tracker.release("a")
    assert released is not None and released.cpu_ids == (0, 1)
    assert tracker.release("a") is None
    assert tracker.allocate("c", 1) == [0]
    assert tracker.snapshot().utilisation == 0.75


def test_a_key_holds_one_allocation_and_zero_cpus_always_fit() -> None:
    tracker = ResourceTracker([0])
    assert tracker.allocate("a", 1) == [0]
    assert tracker.allocate("b", 0) == []
    with pytest.raises(KeyError):
        tracker.allocate("a", 0)
    with pytest.raises(ValueError):
        tracker.allocate("c", -1)
    assert tracker.fits_ever(1) and not tracker.fits_ever(2)


def test_accounts_are_counted_and_limited() -> None:
    tracker = ResourceTracker(range(4), max_accounts=1)
    assert tracker.allocate("a", 1, "alice") == [0]
    assert tracker.allocate("b", 1, "alice") == [1]
    assert tracker.allocate("c", 1, "bob") is None
    assert tracker.snapshot().accounts == {"alice": 2}
    tracker.release("a")
    tracker.release("b")
    assert tracker.snapshot().accounts == {}
    assert tracker.allocate("c", 1, "bob") == [0]


def test_ids_stay_exclusive_under_concurrent_threads() -> None:
    tracker = ResourceTracker(range(8))
    metrics = MetricsObserver()
    tracker.observers.append(metrics)
    overlaps: list[set[int]] = []
    held: set[int] = set()
    held_lock = threading.Lock()

    def churn(worker: int) -> None:
        for i in range(300):
            key = (worker, i)
            ids = tracker.allocate(key, 1 + (i % 3))
            if ids is None:
                continue
            with held_lock:
                if held & set(ids):
                    overlaps.append(held & set(ids))
                held.update(ids)
            with held_lock:
                held.difference_update(ids)
            tracker.release(key)

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert overlaps == []
    assert tracker.snapshot().used_ids == frozenset()
    assert metrics.allocations == metrics.releases > 0
    assert 1 <= metrics.peak_used <= 8
    assert metrics.used == 0 and metrics.utilisation == 0.0


class ReentrantObserver:
    """Calls back into the tracker: this deadlocks if it runs under the tracker's lock."""

    def __init__(self, tracker: ResourceTracker) -> None:
        self.tracker = tracker
        self.seen: list[tuple[str, Hashable, int]] = []

    def allocated(self, allocation: Allocation, snapshot: Snapshot) -> None:
        self.seen.append(("allocated", allocation.key, len(self.tracker.snapshot().used_ids)))

    def released(self, allocation: Allocation, snapshot: Snapshot) -> None:
        self.seen.append(("released", allocation.key, len(self.tracker.snapshot().used_ids)))


def test_observers_are_called_outside_the_lock() -> None:
    tracker = ResourceTracker(range(2))
    observer = ReentrantObserver(tracker)
    tracker.observers.append(observer)
    done = threading.Event()

    def use() -> None:
        tracker.allocate("a", 2)
        tracker.release("a")
        done.set()

    threading.Thread(target=use, daemon=True).start()
    assert done.wait(5), "an observer ran under the tracker's lock"
    assert observer.seen == [("allocated", "a", 2), ("released", "a", 0)]


def test_a_failing_observer_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def allocated(self, allocation: Allocation, snapshot: Snapshot) -> None:
            raise RuntimeError("boom")

        def released(self, allocation: Allocation, snapshot: Snapshot) -> None:
            raise RuntimeError("boom")

    metrics = MetricsObserver()
    tracker = ResourceTracker(range(2), observers=[Broken(), LoggingObserver(), metrics])
    tracker.allocate("a", 1)
    assert metrics.allocations == 1
    assert "observer" in caplog.text


def test_alert_fires_on_crossing_and_rearms_below(caplog: pytest.LogCaptureFixture) -> None:
    alert = AlertObserver(quiet_s=0)  # 90 %
    tracker = ResourceTracker(range(10), observers=[alert])
    with caplog.at_level(logging.WARNING):
        for n in range(8):
            tracker.allocate(n, 1)
        assert alert.alerts == 0
        tracker.allocate(8, 1)  # 90 %: crosses
        tracker.allocate(9, 1)  # still above: quiet
        assert alert.alerts == 1
        tracker.release(9)  # 90 %: still at the threshold
        tracker.release(8)  # 80 %: re-arms
        assert alert.alerts == 1
        tracker.allocate(8, 1)
        assert alert.alerts == 2
    assert caplog.text.count("CPU allocation at 90%") == 2


def test_alert_stays_quiet_for_a_while_after_firing(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    alert = AlertObserver(threshold=1.0, quiet_s=60, clock=lambda: now[0])
    tracker = ResourceTracker(range(1), observers=[alert])
    with caplog.at_level(logging.WARNING):
        for _ in range(5):  # full, empty, full, ... within the quiet period
            tracker.allocate("a", 1)
            tracker.release("a")
        assert alert.alerts == 1
        now[0] = 61.0
        tracker.allocate("a", 1)
        assert alert.alerts == 2
    assert "4 more crossings since the last alert" in caplog.text

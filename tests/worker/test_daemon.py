"""DaemonThread: cadence, run-once step, error counting, context-manager stop."""

from __future__ import annotations

import threading

from corral.worker.daemon import DaemonThread
from waiting import wait_for


class Counter(DaemonThread):
    def __init__(self, interval: float = 0.01, fail_on: set[int] | None = None) -> None:
        super().__init__(interval)
        self.calls = 0
        self.fail_on = fail_on or set()
        self.threads: set[threading.Thread] = set()

    def do_work(self) -> None:
        self.calls += 1
        self.threads.add(threading.current_thread())
        if self.calls in self.fail_on:
            raise RuntimeError(f"call {self.calls} fails")


def test_run_once_calls_do_work_in_the_calling_thread() -> None:
    counter = Counter()
    assert counter.run_once() is True
    assert counter.calls == 1 and counter.runs == 1
    assert counter.threads == {threading.current_thread()}
    assert not counter.is_alive()


def test_exceptions_are_counted_not_fatal() -> None:
    counter = Counter(fail_on={2})
    results = [counter.run_once() for _ in range(3)]
    assert results == [True, False, True]
    assert counter.errors == 1
    assert isinstance(counter.last_error, RuntimeError)


def test_loops_in_its_own_thread_and_survives_errors() -> None:
    with Counter(fail_on={1, 3}) as counter:
        wait_for(lambda: counter.calls >= 5, what="five calls")
    assert counter.errors == 2
    assert not counter.is_alive()
    assert threading.current_thread() not in counter.threads
    assert counter.daemon


def test_stop_interrupts_a_long_interval() -> None:
    with Counter(interval=60) as counter:
        wait_for(lambda: counter.calls == 1, what="the first call")
    assert not counter.is_alive()
    assert counter.stopping


def test_without_run_immediately_the_first_call_waits_an_interval() -> None:
    counter = Counter(interval=60)
    counter.run_immediately = False
    with counter:
        assert not counter.wait(0.05)
    assert counter.calls == 0

"""SignalHandler with real signals: wake-up, chained callbacks, second signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from corral.worker.signals import SignalHandler
from waiting import wait_for


@pytest.fixture
def exits() -> list[int]:
    return []


@pytest.fixture
def handler(exits: list[int]) -> Iterator[SignalHandler]:
    with SignalHandler(immediate_exit=exits.append) as installed:
        yield installed
    assert signal.getsignal(signal.SIGTERM) is not installed._handle


def test_signal_wakes_the_waiting_loop(handler: SignalHandler) -> None:
    assert handler.wait(0.01) is False
    os.kill(os.getpid(), signal.SIGTERM)
    assert handler.wait(5) is True
    assert handler.signal_received == signal.SIGTERM
    assert handler.wait(0) is True  # stays woken


def test_callbacks_chain_and_run_in_the_main_loop_not_the_handler(
    handler: SignalHandler,
) -> None:
    calls: list[str] = []
    assert (
        handler.on_shutdown(lambda: calls.append("a")).on_shutdown(lambda: calls.append("b"))
        is handler
    )
    os.kill(os.getpid(), signal.SIGINT)
    assert handler.wait(5)
    assert calls == []  # the handler only recorded the signal
    handler.run_callbacks()
    handler.run_callbacks()  # once only
    assert calls == ["a", "b"]


def test_a_failing_callback_does_not_stop_the_others(handler: SignalHandler) -> None:
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    handler.on_shutdown(broken).on_shutdown(lambda: calls.append("after"))
    handler.run_callbacks()
    assert calls == ["after"]


def test_second_signal_exits_at_once(handler: SignalHandler, exits: list[int]) -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    assert handler.wait(5)
    assert exits == []
    os.kill(os.getpid(), signal.SIGTERM)
    wait_for(lambda: exits == [signal.SIGTERM], what="the immediate exit")


def test_wake_from_another_thread(handler: SignalHandler) -> None:
    threading.Timer(0.01, handler.wake).start()
    assert handler.wait(5) is True
    assert handler.signal_received is None


def test_default_second_signal_exit_code_in_a_real_process() -> None:
    # The child waits for one signal, then runs a shutdown that never ends.
    code = (
        "import signal, sys, time\n"
        "from corral.worker.signals import SignalHandler\n"
        "h = SignalHandler().install()\n"
        "print('ready', flush=True)\n"
        "h.wait()\n"
        "print('draining', flush=True)\n"
        "h.on_shutdown(lambda: time.sleep(30)).run_callbacks()\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == "ready\n"
            child.send_signal(signal.SIGTERM)
            assert child.stdout.readline() == "draining\n"
            child.send_signal(signal.SIGTERM)
            assert child.wait(5) == 128 + signal.SIGTERM
        finally:
            child.kill()

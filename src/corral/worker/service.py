"""WorkerService: the worker's life from registration to exit, on the main thread.

The main thread registers, starts the background loops (heartbeats now; a job
long-poll later sits beside them) and then sleeps until a signal or a fatal
error wakes it. The shutdown itself runs here, never in a signal handler.
"""

from __future__ import annotations

import logging
import signal
import time
from functools import partial

from corral.worker.agent import Agent
from corral.worker.cpus import usable_cpus
from corral.worker.daemon import DaemonThread
from corral.worker.heartbeat import HeartbeatThread
from corral.worker.master_client import MasterClient, MasterError
from corral.worker.parent import arm_parent_death_signal
from corral.worker.signals import SignalHandler

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_PARENT_GONE = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3
# How long a graceful shutdown waits for a loop in the middle of a request;
# past it the loop is abandoned (a daemon thread), the agent ignores its result.
LOOP_STOP_TIMEOUT_S = 1.0


class WorkerSettings:
    """What a worker needs to start; the token never appears in its repr."""

    __slots__ = ("heartbeat_interval_s", "master_url", "parent_pid", "token", "worker_id")

    def __init__(
        self,
        master_url: str,
        worker_id: str,
        token: str,
        *,
        heartbeat_interval_s: float | None = None,
        parent_pid: int | None = None,
    ) -> None:
        self.master_url = master_url
        self.worker_id = worker_id
        self.token = token
        self.heartbeat_interval_s = heartbeat_interval_s
        self.parent_pid = parent_pid

    def __repr__(self) -> str:
        return f"WorkerSettings(master_url={self.master_url!r}, worker_id={self.worker_id!r})"


class WorkerService:
    """Runs one worker instance; ``run()`` returns the process exit code."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.agent: Agent | None = None
        self.fatal_error: MasterError | None = None
        self._signals = SignalHandler()

    def run(self) -> int:
        """Register, serve until told to stop, and shut down."""
        with self._signals:
            parent_pid = self.settings.parent_pid
            if parent_pid is not None and not arm_parent_death_signal(parent_pid):
                log.error("launching process %d is gone; exiting", parent_pid)
                return EXIT_PARENT_GONE
            client = MasterClient(self.settings.master_url, self.settings.token)
            self.agent = agent = Agent(
                client,
                self.settings.worker_id,
                usable_cpus(),
                heartbeat_interval_s=self.settings.heartbeat_interval_s,
            )
            try:
                if not agent.register_until_done(self._signals.wait):
                    log.info("stopped before registering")
                    return EXIT_OK
            except MasterError as exc:
                log.error("master refused registration of %r: %s", agent.worker_id, exc)
                return EXIT_REJECTED
            return self._serve(agent)

    def _loops(self, agent: Agent) -> list[DaemonThread]:
        """The background loops of a registered worker."""
        # Imported here so that psutil's import cost comes after registering.
        from corral.worker.metrics import ProcessTreeSampler

        return [HeartbeatThread(agent, ProcessTreeSampler(), on_fatal=self._on_fatal)]

    def _serve(self, agent: Agent) -> int:
        """Run the loops until a signal or a fatal error; then shut down."""
        loops = self._loops(agent)
        # Loops stop before the deregistration, so no heartbeat follows it.
        self._signals.on_shutdown(partial(_stop_loops, loops, LOOP_STOP_TIMEOUT_S))
        self._signals.on_shutdown(agent.deregister)
        for loop in loops:
            loop.start()
        try:
            self._signals.wait()
            if self.fatal_error is not None:
                log.error("exiting: %s", self.fatal_error)
                return EXIT_REJECTED
            signum = self._signals.signal_received
            name = signal.Signals(signum).name if signum is not None else "wake-up"
            log.info("%s received: shutting down (a second signal exits at once)", name)
            self._signals.run_callbacks()
        finally:
            _stop_loops(loops, timeout=0)
        log.info("stopped")
        return EXIT_OK

    def _on_fatal(self, exc: MasterError) -> None:
        """Called from a loop whose requests the master now refuses for good."""
        self.fatal_error = exc
        self._signals.wake()


def _stop_loops(loops: list[DaemonThread], timeout: float) -> None:
    """Stop the loops, newest first, waiting at most ``timeout`` seconds in all."""
    deadline = time.monotonic() + timeout
    for loop in reversed(loops):
        loop.stop(max(0.0, deadline - time.monotonic()))

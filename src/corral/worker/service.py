"""WorkerService: the worker's life from registration to exit, on the main thread.

The main thread finds how it can contain jobs (cgroups or process groups), kills
what a previous instance left, registers, starts the executor and the background
loops (heartbeats, the job long-poll, the event reporter) and then sleeps until a
signal or a fatal error wakes it. The shutdown itself (drain, flush, deregister)
runs here, never in a signal handler.
"""

from __future__ import annotations

import logging
import os
import signal
import ssl
import time
from functools import partial
from pathlib import Path

from corral.protocol import ENV_CPU_IDS
from corral.worker.agent import Agent
from corral.worker.cgroups import Containment
from corral.worker.containment import PROCESS_GROUPS, cgroup_prefix, detect
from corral.worker.cpus import keep_to, usable_cpus
from corral.worker.daemon import DaemonThread
from corral.worker.executor import DEFAULT_GRACE_S, Executor
from corral.worker.heartbeat import HeartbeatThread
from corral.worker.job_loop import Poller, Reporter
from corral.worker.master_client import MasterClient, MasterError, MasterUntrusted
from corral.worker.orphans import state_dir
from corral.worker.outbox import Outbox
from corral.worker.parent import PARENT_DEATH_SIGNAL, arm_parent_death_signal
from corral.worker.resource_observers import AlertObserver, LoggingObserver, MetricsObserver
from corral.worker.resources import Observer, ResourceTracker
from corral.worker.signals import SignalHandler, exit_now
from corral.worker.state_files import StateFiles, open_state_files

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_PARENT_GONE = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3
# How long a graceful shutdown waits for a loop in the middle of a request;
# past it the loop is abandoned (a daemon thread), the agent ignores its result.
LOOP_STOP_TIMEOUT_S = 1.0
DEFAULT_DRAIN_TIMEOUT_S = 30.0
# After the last SIGKILL, how long to wait for the killed jobs to be reaped.
REAP_MARGIN_S = 2.0
# How long the last job events may take to reach the master before exit.
FLUSH_TIMEOUT_S = 3.0
# How long a worker whose master died waits for its killed jobs to be settled on disk.
SETTLE_TIMEOUT_S = 0.5


class WorkerSettings:
    """What a worker needs to start; the token and secret values never appear in its repr."""

    __slots__ = (
        "cgroups",
        "drain_timeout_s",
        "heartbeat_interval_s",
        "kill_grace_s",
        "master_url",
        "parent_pid",
        "secret_env",
        "tls",
        "token",
        "worker_id",
    )

    def __init__(
        self,
        master_url: str,
        worker_id: str,
        token: str,
        *,
        secret_env: dict[str, str] | None = None,
        heartbeat_interval_s: float | None = None,
        parent_pid: int | None = None,
        drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S,
        kill_grace_s: float = DEFAULT_GRACE_S,
        cgroups: bool = True,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.master_url = master_url
        self.worker_id = worker_id
        self.token = token
        self.secret_env = secret_env or {}  # added to every job's environment
        self.heartbeat_interval_s = heartbeat_interval_s
        self.parent_pid = parent_pid
        self.drain_timeout_s = drain_timeout_s
        self.kill_grace_s = kill_grace_s
        self.cgroups = cgroups  # False: contain jobs by process groups even where cgroups work
        self.tls = tls  # how an https master is verified before the token goes out

    def __repr__(self) -> str:
        return f"WorkerSettings(master_url={self.master_url!r}, worker_id={self.worker_id!r})"


class WorkerService:
    """Runs one worker instance; ``run()`` returns the process exit code."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.agent: Agent | None = None
        self.executor: Executor | None = None
        self.containment: Containment | None = None
        self.fatal_error: MasterError | None = None
        self.metrics = MetricsObserver()
        self._master_gone = False
        # Only a local worker has a parent to watch; a remote one keeps SIGHUP as it got it.
        urgent = (PARENT_DEATH_SIGNAL,) if settings.parent_pid is not None else ()
        self._signals = SignalHandler(urgent=urgent, immediate_exit=self._exit_now)

    def run(self) -> int:
        """Clean up, register, serve until told to stop, and shut down."""
        with self._signals:
            parent_pid = self.settings.parent_pid
            if parent_pid is not None and not arm_parent_death_signal(parent_pid):
                log.error("launching process %d is gone; exiting", parent_pid)
                return EXIT_PARENT_GONE
            files, orphans = open_state_files(self.settings.worker_id, os.environ)
            self.containment = self._containment()
            if self.containment is not None:
                # Then whatever left its job's process group. Both sweeps find the same
                # jobs (each had a cgroup): the larger count is how many were still running.
                orphans = max(orphans, self.containment.sweep())
            client = MasterClient(
                self.settings.master_url,
                self.settings.token,
                self.settings.worker_id,
                tls=self.settings.tls,
            )
            self.agent = agent = Agent(
                client,
                self.settings.worker_id,
                keep_to(usable_cpus(), os.environ.get(ENV_CPU_IDS)),
                heartbeat_interval_s=self.settings.heartbeat_interval_s,
            )
            agent.orphans_killed = orphans
            agent.containment = self.containment.name if self.containment else PROCESS_GROUPS
            try:
                if not agent.register_until_done(self._signals.wait):
                    log.info("stopped before registering")
                    return EXIT_OK
            except MasterUntrusted as exc:
                log.error("not registering: %s", exc)
                return EXIT_REJECTED
            except MasterError as exc:
                log.error("master refused registration of %r: %s", agent.worker_id, exc)
                return EXIT_REJECTED
            return self._serve(agent, files)

    def _containment(self) -> Containment | None:
        """Where the jobs' cgroups go; None when jobs have their process groups only."""
        if not self.settings.cgroups:
            log.info("cgroups turned off: jobs are contained by their process groups")
            return None
        containment = detect(cgroup_prefix(self.settings.worker_id, self._state_folder()))
        if containment is None:
            log.info("no cgroups available: jobs are contained by their process groups")
            return None
        log.info("jobs run in %s (%s)", containment.name, containment.describe())
        return containment

    def _state_folder(self) -> Path | None:
        """The worker's state folder, whose path names its cgroups; None if it has none."""
        try:
            return state_dir(self.settings.worker_id, os.environ)
        except OSError:
            return None

    def _executor(self, agent: Agent, outbox: Outbox, files: StateFiles | None) -> Executor:
        """The executor over the CPUs the master lets this worker use."""
        observers: list[Observer] = [LoggingObserver(), self.metrics, AlertObserver()]
        tracker = ResourceTracker(agent.cpu_ids, observers=observers)
        executor = Executor(
            tracker,
            outbox,
            grace_s=self.settings.kill_grace_s,
            fence_deadline=agent.fence_deadline,
            files=files,
            instance_id=lambda: agent.instance_id,
            secret_env=self.settings.secret_env,
            containment=self.containment,
        )
        # Jobs of an instance the master has forgotten are no longer its to run.
        agent.on_new_instance.append(executor.forget_all)
        return executor

    def _serve(self, agent: Agent, files: StateFiles | None) -> int:
        """Run the executor and the loops until a signal or a fatal error; then shut down."""
        # Imported here so that psutil's import cost comes after registering.
        from corral.worker.metrics import ProcessTreeSampler

        outbox = Outbox()
        self.executor = executor = self._executor(agent, outbox, files)
        reporter = Reporter(agent, executor, outbox, on_fatal=self._on_fatal)
        loops: list[DaemonThread] = [
            HeartbeatThread(agent, ProcessTreeSampler(), on_fatal=self._on_fatal),
            reporter,
            Poller(agent, executor, on_fatal=self._on_fatal),
        ]
        self._signals.on_shutdown(partial(self._drain, executor, reporter, outbox))
        # Loops stop before the deregistration, so no heartbeat follows it.
        self._signals.on_shutdown(partial(_stop_loops, loops, LOOP_STOP_TIMEOUT_S))
        self._signals.on_shutdown(agent.deregister)
        executor.start()
        for loop in loops:
            loop.start()
        try:
            return self._wait_and_shut_down(executor)
        finally:
            _stop_loops(loops, timeout=0)
            executor.stop(REAP_MARGIN_S)
            if self.containment is not None and not executor.is_alive():
                self.containment.close()
            log.info(
                "stopped (%d jobs run, at most %d CPUs in use)",
                self.metrics.allocations,
                self.metrics.peak_used,
            )

    def _wait_and_shut_down(self, executor: Executor) -> int:
        """Sleep until woken; then the graceful shutdown, unless the master refused us or died."""
        self._signals.wait()
        if self.fatal_error is not None:
            log.error("exiting: %s", self.fatal_error)
            return EXIT_REJECTED
        if self._master_gone:
            return self._leave_without_master(executor)
        signum = self._signals.signal_received
        name = signal.Signals(signum).name if signum is not None else "wake-up"
        log.info("%s received: shutting down (a second signal exits at once)", name)
        self._signals.run_callbacks()
        return EXIT_OK

    def _drain(self, executor: Executor, reporter: Reporter, outbox: Outbox) -> None:
        """Take no new jobs, let running ones finish in the window, end the rest, report."""
        executor.drain()
        reporter.announce()
        window = self.settings.drain_timeout_s
        log.info("draining: running jobs have %.3g s to finish", window)
        if not executor.wait_idle(window):
            log.warning("drain window over: ending the jobs still running")
            executor.terminate_all("drained")
            executor.wait_idle(executor.grace_s + REAP_MARGIN_S)
        if not outbox.wait_empty(FLUSH_TIMEOUT_S):
            log.warning("%d job events could not be delivered to the master", len(outbox))

    def _leave_without_master(self, executor: Executor) -> int:
        """Nobody to drain to: kill the jobs now, keep on disk how each ended, and go."""
        log.warning("the master that launched this worker is gone: killing its jobs")
        executor.abandon("drained")
        if not executor.wait_idle(SETTLE_TIMEOUT_S):
            log.warning("jobs not settled within %.3g s; leaving anyway", SETTLE_TIMEOUT_S)
        return EXIT_PARENT_GONE

    def _on_fatal(self, exc: MasterError) -> None:
        """Called from a loop whose requests the master now refuses for good."""
        self.fatal_error = exc
        self._signals.wake()

    def _exit_now(self, signum: int) -> None:
        """A second signal, or the master that launched us died: kill every job's group, leave."""
        urgent = signum in self._signals.urgent
        if urgent and (self._master_gone or not self._signals.woken):
            # The main loop kills and settles the jobs. The kernel sends this signal
            # again as each thread of the dying master exits: once is enough.
            if not self._master_gone:
                self._master_gone = True
                self._signals.wake()
            return
        # Killed last, right before the exit: the executor must get no time to record
        # a job killed here as one that failed by itself.
        kill = self.executor.kill_groups_now if self.executor is not None else None
        if urgent:  # the master died while this worker was shutting down gracefully
            exit_now(signum, "the master that launched this worker is gone", kill)
        exit_now(signum, last=kill)


def _stop_loops(loops: list[DaemonThread], timeout: float) -> None:
    """Stop the loops, newest first, waiting at most ``timeout`` seconds in all."""
    deadline = time.monotonic() + timeout
    for loop in reversed(loops):
        loop.stop(max(0.0, deadline - time.monotonic()))

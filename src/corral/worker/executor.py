"""Executor: one thread that spawns, watches and ends every job process.

A ``selectors`` loop waits on each job's stdout, stderr and pidfd (readable the
moment the process exits) and on a wake-up pipe for commands from other
threads. Deadlines (timeouts, the SIGKILL after a grace period, the fence)
become the loop's select timeout: nothing polls. Commands are queued closures
run on the loop's thread, so the job table has a single owner.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import selectors
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping

from corral.procfs import process_start_time
from corral.protocol import Assignment, AttemptRef, JobEvent
from corral.worker.cgroups import Containment, JobCgroup
from corral.worker.daemon import DaemonThread
from corral.worker.job_events import finished_event, started_event
from corral.worker.job_process import JobProcess, SpawnFailed, base_environment
from corral.worker.outbox import AttemptKey, Outbox
from corral.worker.resources import ResourceTracker
from corral.worker.state_files import StateFiles
from corral.worker.waiting_jobs import WaitingJobs, attempt_of

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 5.0
# How long output pipes may stay open after the job's group is gone (held by a
# process that left the group); past it the job is reported finished anyway.
OUTPUT_LINGER_S = 1.0
Command = Callable[[], None]


class Executor(DaemonThread):
    """Runs assignments as pinned process groups and reports what happens to them."""

    def __init__(
        self,
        tracker: ResourceTracker,
        outbox: Outbox,
        *,
        grace_s: float = DEFAULT_GRACE_S,
        fence_deadline: Callable[[], float] = lambda: math.inf,
        files: StateFiles | None = None,
        instance_id: Callable[[], str] = lambda: "",
        environ: Mapping[str, str] = os.environ,
        secret_env: Mapping[str, str] | None = None,
        containment: Containment | None = None,
    ) -> None:
        super().__init__(0.0, name="executor")
        self.tracker = tracker
        self.outbox = outbox
        self.grace_s = grace_s
        self.fence_deadline = fence_deadline
        self.files = files
        self.instance_id = instance_id
        self.containment = containment  # the jobs' cgroups; None: process groups only
        self.draining = False
        self.abandoned = False  # the master is gone: nobody to send to, nothing to pause for
        self.jobs: dict[AttemptKey, JobProcess] = {}
        self.waiting = WaitingJobs()  # assignments waiting for CPUs
        # Unreaped leaders and their cgroups, read by the signal path.
        self.group_pids: dict[int, JobCgroup | None] = {}
        # The worker's secret variables reach its jobs, never its own environment.
        self._base_env = base_environment(environ) | dict(secret_env or {})
        self._mask = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        self._commands: deque[Command] = deque()
        self._busy = False
        self._cond = threading.Condition()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        # The reporter made room for an attempt whose pipes we stopped reading.
        outbox.on_room = self.resume
        outbox.on_end_delivered = self._delivered
        if files is not None:
            outbox.before_ends_leave = files.outcomes.sync

    # Called from other threads: each queues a command for the loop.

    def submit(
        self,
        assignments: Iterable[Assignment] = (),
        cancels: Iterable[AttemptRef] = (),
        stale: Iterable[AttemptRef] = (),
    ) -> None:
        """Hand over what the master sent: new attempts, cancels, attempts it disowned."""
        assignments, cancels, stale = list(assignments), list(cancels), list(stale)
        if assignments or cancels or stale:
            self._command(lambda: self._on_answer(assignments, cancels, stale))

    def drain(self) -> None:
        """Take no new work: report queued and newly arriving attempts ``drained``."""
        self.draining = True  # at once: the next request to the master must say so
        self._command(self._drain)

    def terminate_all(self, reason: str) -> None:
        """End every job: SIGTERM to its group, a grace period, then SIGKILL."""
        self._command(lambda: self._terminate_all(reason))

    def abandon(self, reason: str) -> None:
        """The master is gone: SIGKILL every job now, then settle each on disk as it ended."""
        self._command(lambda: self._abandon(reason))

    def forget_all(self) -> None:
        """The instance is gone: SIGKILL every job and report nothing more about any."""
        self._command(self._forget_all)

    def _delivered(self, key: AttemptKey) -> None:
        """The master has stored the attempt's end (called from the reporter's thread)."""
        if self.files is not None:
            self.files.acknowledged(*key)

    def resume(self, key: AttemptKey) -> None:
        """Read a paused job's pipes again: its output waiting to be sent has shrunk."""
        self._command(lambda: self._resume(key))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs or waits for CPUs; True if so within ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy, timeout)

    def kill_groups_now(self) -> None:
        """SIGKILL every job's group and cgroup from any context, a signal handler included."""
        for pid, cgroup in list(self.group_pids.items()):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            if cgroup is not None:
                cgroup.kill()

    def stop(self, timeout: float | None = None) -> None:
        """End the loop; jobs still running are killed by it on the way out."""
        self._stop_requested.set()
        self._poke()
        super().stop(timeout)

    def _command(self, command: Command) -> None:
        with self._cond:
            self._commands.append(command)
            self._busy = True
        self._poke()

    def _poke(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"\0")

    # The loop.

    def run(self) -> None:
        try:
            super().run()
        finally:
            self._shutdown()

    def do_work(self) -> None:
        """One turn: wait for pipes, exits, commands or a deadline, then act on them."""
        for key, _ in self._selector.select(self._next_timeout()):
            if key.data is None:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            else:
                job, fd = key.data
                # An earlier event of this turn may have closed it already.
                if fd in job.streams:
                    self._on_output(job, fd)
                elif fd == job.pidfd and not job.exited:
                    self._on_exit(job)
        while self._commands:
            self._commands.popleft()()
        self._check_deadlines(time.monotonic())
        self._start_queued()
        with self._cond:
            if not self._commands:
                self._busy = bool(self.jobs or self.waiting)
                self._cond.notify_all()

    def _next_timeout(self) -> float | None:
        """Seconds until the nearest deadline; None when there is none."""
        if self._commands:
            return 0
        deadlines = []
        live = False
        for job in self.jobs.values():
            if job.exited and not job.paused:
                deadlines.append(job.linger_until)
            elif job.exited:
                continue
            elif not job.killed:
                live = True
                deadlines.append(job.kill_at if job.kill_at is not None else job.deadline)
        if live:
            deadlines.append(self.fence_deadline())
        nearest = min(deadlines, default=math.inf)
        return None if nearest == math.inf else max(0.0, nearest - time.monotonic())

    def _on_answer(
        self, assignments: list[Assignment], cancels: list[AttemptRef], stale: list[AttemptRef]
    ) -> None:
        for ref in stale:
            self._disown((ref["job_id"], ref["attempt"]))
        for ref in cancels:
            self._end((ref["job_id"], ref["attempt"]), "cancelled")
        for assignment in assignments:
            self._accept(assignment)

    def _accept(self, assignment: Assignment) -> None:
        """Queue a new attempt, or answer it at once when it can never run here."""
        key = (assignment["job_id"], assignment["attempt"])
        if key in self.jobs or key in self.waiting:
            log.debug("attempt %s already here; ignoring the repeat", key)
        elif self.draining:
            self._report_end(finished_event(key, None, "drained"))
        elif not self.tracker.fits_ever(assignment["cpus"]):
            total = len(self.tracker.cpu_ids)
            why = f"needs {assignment['cpus']} CPUs, this worker has {total}"
            self._report_end(finished_event(key, None, "spawn_failed", why))
        else:
            self.waiting.add(assignment)

    def _start_queued(self) -> None:
        """Start the waiting attempts that fit now."""
        for assignment, ids in self.waiting.take_fitting(self.tracker):
            self._spawn(assignment, ids)

    def _spawn(self, assignment: Assignment, cpu_ids: list[int]) -> None:
        key = attempt_of(assignment)
        try:
            job = JobProcess(assignment, cpu_ids, self._base_env, self._mask, self.containment)
        except SpawnFailed as exc:
            self.tracker.release(key)
            self._report_end(finished_event(key, None, "spawn_failed", str(exc)))
            return
        self.jobs[key] = job
        self.group_pids[job.pid] = job.cgroup
        timeout = assignment["timeout_s"]
        job.deadline = time.monotonic() + timeout if timeout is not None else math.inf
        for fd in (*job.streams, job.pidfd):
            self._selector.register(fd, selectors.EVENT_READ, (job, fd))
        started = process_start_time(job.pid)
        if self.files is not None and started is not None:
            self.files.jobs.add(job.pid, started)
        self.outbox.put(started_event(key, job.pid, cpu_ids, started))

    def _on_output(self, job: JobProcess, fd: int) -> None:
        stream, text = job.read(fd)
        if text and job.report:
            self._emit(job.key, stream, job.keep(stream, text))
            if self.outbox.over(job.key) and not self.abandoned:
                self._pause(job)
        if text is None:
            if not job.paused:
                self._selector.unregister(fd)
            job.close_stream(fd)
            if job.exited and not job.streams:
                self._finish(job)

    def _emit(self, key: AttemptKey, stream: str, text: str) -> None:
        """Output to spool, then to send: the spool is what survives if both of us die."""
        if self.files is not None:
            self.files.spool.write(key[0], key[1], stream, text.encode())
        self.outbox.put_output(key, stream, text)

    def _pause(self, job: JobProcess) -> None:
        """Stop reading the job's pipes: it blocks on write until the master catches up."""
        if not job.paused:
            job.paused = True
            for fd in job.streams:
                self._selector.unregister(fd)

    def _resume(self, key: AttemptKey) -> None:
        job = self.jobs.get(key)
        if job is None or not job.paused:
            return
        job.paused = False
        for fd in job.streams:
            self._selector.register(fd, selectors.EVENT_READ, (job, fd))
        if job.exited:
            job.linger_until = time.monotonic() + OUTPUT_LINGER_S

    def _on_exit(self, job: JobProcess) -> None:
        """The leader exited: kill its group, reap it, free its CPUs, read what is left."""
        self._selector.unregister(job.pidfd)
        job.reap()
        self.group_pids.pop(job.pid, None)
        self.tracker.release(job.key)
        if self.files is not None:
            self.files.jobs.remove(job.pid)
        job.linger_until = time.monotonic() + OUTPUT_LINGER_S
        for fd in list(job.streams):
            if not job.paused:
                self._on_output(job, fd)
        if job.key in self.jobs and not job.streams:
            self._finish(job)

    def _finish(self, job: JobProcess) -> None:
        for fd in list(job.streams):
            if not job.paused:
                self._selector.unregister(fd)
        job.close()
        usage = job.release()
        del self.jobs[job.key]
        if job.report:
            for stream, marker in job.cut_markers():
                self._emit(job.key, stream, marker)
            reason, detail = job.verdict(usage)
            event = finished_event(job.key, job.returncode, reason, detail, usage)
            self._report_end(event, job.kept)

    def _report_end(self, event: JobEvent, sent: Mapping[str, int] | None = None) -> None:
        """Record the outcome durably, then queue it for the master."""
        if self.files is not None:
            output = {f"{stream}_bytes": n for stream, n in (sent or {}).items()}
            record = {**event, "instance_id": self.instance_id(), **output}
            if not self.files.outcomes.record(record):
                log.warning("job %d: outcome not recorded on disk; reporting it", event["job_id"])
        self.outbox.put(event)

    def _check_deadlines(self, now: float) -> None:
        fenced = now >= self.fence_deadline()
        if fenced and (self.waiting or any(not j.killed for j in self.jobs.values())):
            log.warning("no contact with the master: killing every job (fenced)")
            self._end_queued("fenced")
        for job in list(self.jobs.values()):
            if job.exited:
                if not job.paused and now >= job.linger_until:
                    self._finish(job)
            elif job.killed:
                continue
            elif fenced:
                job.reason = job.reason or "fenced"
                self._kill(job)
            elif job.kill_at is not None and now >= job.kill_at:
                self._kill(job)
            elif job.kill_at is None and now >= job.deadline:
                self._end(job.key, "timeout")

    def _end(self, key: AttemptKey, reason: str) -> None:
        """Start ending an attempt: SIGTERM now, SIGKILL after the grace period."""
        job = self.jobs.get(key)
        if job is None:
            self._end_queued(reason, only=key)
            return
        if job.exited or job.killed or job.kill_at is not None:
            return
        job.reason = reason
        job.kill_at = time.monotonic() + self.grace_s
        job.signal_group(signal.SIGTERM)

    def _kill(self, job: JobProcess) -> None:
        job.killed = True
        job.signal_group(signal.SIGKILL)

    def _end_queued(self, reason: str, only: AttemptKey | None = None) -> None:
        """Report waiting attempts ended before they started (all, or the one given)."""
        if only is None:
            ended = self.waiting.remove_all()
        else:
            one = self.waiting.remove(only)
            ended = [one] if one is not None else []
        for assignment in ended:
            self._report_end(finished_event(attempt_of(assignment), None, reason))

    def _disown(self, key: AttemptKey) -> None:
        """The master no longer owns this attempt: kill it and say nothing more."""
        self.waiting.remove(key)
        job = self.jobs.get(key)
        if job is not None:
            job.report = False
            if not job.exited:
                self._kill(job)
            self._resume(key)  # its output now goes nowhere: let it drain
        self.outbox.discard([key])
        if self.files is not None:
            self.files.spool.done(*key)

    def _drain(self) -> None:
        self._end_queued("drained")

    def _abandon(self, reason: str) -> None:
        # Output is read to the end into the spool and outcomes go to the ledger: what
        # the next master reads. A job that ended by itself is settled as it ended.
        self.draining = self.abandoned = True
        self._end_queued(reason)
        for key, job in list(self.jobs.items()):
            if not job.exited and not job.killed:
                job.reason = job.reason or reason
                self._kill(job)
            self._resume(key)

    def _terminate_all(self, reason: str) -> None:
        for key in list(self.jobs):
            self._end(key, reason)

    def _forget_all(self) -> None:
        self.waiting.remove_all()
        for key in list(self.jobs):
            self._disown(key)
        self.outbox.clear()

    def _shutdown(self) -> None:
        """Leave no job behind: SIGKILL the groups still live, reap them, close up."""
        for job in list(self.jobs.values()):
            if not job.exited:
                job.reap()
                self.tracker.release(job.key)
            job.close()
            job.release()
        self.jobs.clear()
        self.group_pids.clear()
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.files is not None:
            self.files.close()
        with self._cond:
            self._busy = False
            self._cond.notify_all()

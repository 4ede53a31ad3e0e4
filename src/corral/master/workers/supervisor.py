"""One worker's supervisor: its process, its state machine, its restarts."""

import asyncio
import logging
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

from corral.domain.clock import utcnow
from corral.domain.jobs import Reason
from corral.domain.placement import Slot
from corral.domain.worker_states import (
    ACTIVE_STATES,
    DesiredState,
    WorkerState,
    check_transition,
)
from corral.domain.workers import DeploymentType, WorkerConfig, WorkerRuntime
from corral.errors import ConflictError, ForbiddenError
from corral.launchers.base import ExitStatus, WorkerHandle
from corral.master.core import Core
from corral.master.jobs.slots import WorkerSlot, fleet_worker
from corral.master.stale_process import kill_stale_worker
from corral.master.workers.launch import launch_spec, restart_policy, state_dir

log = logging.getLogger("corral.master")
S = WorkerState


class StaleInstanceError(ConflictError):
    """A worker spoke for an instance the master no longer counts as current."""


class WorkerSupervisor:
    """Owns one worker; operator commands are serialised, events are handled at once."""

    def __init__(self, core: Core, config: WorkerConfig, rt: WorkerRuntime) -> None:
        self.core = core
        self.runtime = rt
        self.config = config
        self.worker_id = config.worker_id
        self.state = rt.state
        self.desired = rt.desired_state
        self.instance_id = rt.instance_id
        self.handle: WorkerHandle | None = None
        self.last_contact = 0.0
        self._stale_pid = rt.pid
        self._errors = rt.error_count
        self._restarts = rt.restart_count
        self._launched_at = 0.0
        self._failures = 0
        self._restart_times: list[float] = []
        # CPU time of the worker's process tree, integrated from its heartbeats' CPU %.
        self.cpu_seconds = 0.0
        self._last_beat = 0.0
        self._watch: asyncio.Task[None] | None = None
        self._restart: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def _transition(self, new: WorkerState, why: str, level: str = "info", **f: Any) -> None:
        """Take one checked edge in memory at once; its record and log row are queued."""
        check_transition(self.state, new)
        old, self.state = self.state, new
        log.log(
            logging.getLevelName(level.upper()), "%s: %s -> %s: %s", self.worker_id, old, new, why
        )
        self._persist(state=new, **f)
        self.core.writer.log(self.worker_id, f"{old} -> {new}: {why}", level, "transition")

    def _persist(self, **fields: Any) -> None:
        """Change the runtime record in memory at once; the write is queued."""
        self.runtime = replace(self.runtime, **fields, updated_at=utcnow())
        self.core.writer.worker(self.worker_id, **fields)

    def _event(self, kind: str, message: str, level: str = "info") -> None:
        """Queue a row of the worker's history."""
        self.core.writer.log(self.worker_id, message, level, kind)

    async def start(self, reason: str = "start requested") -> None:
        """Start the worker by hand: resets the restart budget."""
        async with self._lock:
            await self._start_locked(reason, manual=True)

    async def stop(self, graceful: bool, timeout_s: float, reason: str = "stop requested") -> None:
        """Stop the worker and remember that it should stay stopped."""
        async with self._lock:
            await self._stop_locked(graceful, timeout_s, reason, keep_desired=False)

    async def restart(self, graceful: bool, timeout_s: float) -> None:
        """Stop (if needed) and start again, as one operator command."""
        async with self._lock:
            await self._stop_locked(graceful, timeout_s, "restart requested", keep_desired=True)
            await self._start_locked("restart requested", manual=True)

    async def shutdown(self, timeout_s: float) -> None:
        """Stop for a master shutdown: the desired state is kept for the next master."""
        async with self._lock:
            await self._stop_locked(True, timeout_s, "master shutting down", keep_desired=True)

    async def _start_locked(self, reason: str, manual: bool) -> None:
        """Launch a new instance; the worker counts as running once it registers."""
        if self.state in ACTIVE_STATES:
            raise ConflictError(f"worker {self.worker_id} is already {self.state}")
        launcher = self.core.launcher_for(self.config)
        if manual:
            self._failures = 0
            self._restart_times.clear()
        self._cancel_restart()
        self.desired = DesiredState.RUNNING
        self.instance_id = None
        self._transition(
            S.STARTING,
            reason,
            desired_state=self.desired,
            instance_id=None,
            pid=None,
            exit_code=None,
            exit_signal=None,
            next_restart_at=None,
            stopped_at=None,
        )
        try:
            # Inside: a config whose secrets do not open fails like any other launch.
            spec = launch_spec(self.core, self.config)
            handle = await launcher.launch(spec, self.core.log_files.sink(self.worker_id))
        except Exception as exc:
            self.core.local_cpus.release(self.worker_id)
            await self._crashed(f"could not launch: {exc!r}", ExitStatus(), ran_for=0.0)
            return
        self.handle = handle
        self._launched_at = time.monotonic()
        self._watch = asyncio.create_task(self._watch_exit(handle))
        self._persist(pid=handle.pid, container_id=handle.container_id)

    async def _stop_locked(
        self, graceful: bool, timeout_s: float, why: str, keep_desired: bool
    ) -> None:
        """Bring the worker to stopped, whatever state it is in."""
        self._cancel_restart()
        if not keep_desired and self.desired is not DesiredState.STOPPED:
            self.desired = DesiredState.STOPPED
            self._persist(desired_state=self.desired)
        if self.state in (S.CRASHED, S.ERROR):
            self._transition(S.STOPPED, why, next_restart_at=None)
            return
        if self.state is S.STOPPED:
            return
        if self.state is not S.STOPPING:
            self._transition(S.STOPPING, why)
        if self.handle is not None:
            await self.handle.stop(timeout_s if graceful else 0.0)
        if self._watch is not None:
            await asyncio.shield(self._watch)
        if self.state is S.STOPPING:
            self._transition(S.STOPPED, "no process left", pid=None, stopped_at=utcnow())

    async def _watch_exit(self, handle: WorkerHandle) -> None:
        """Record the exit of an instance the moment it happens."""
        status = await handle.wait()
        if self.handle is handle:
            self.handle = None
        self.core.local_cpus.release(self.worker_id)
        ran_for = time.monotonic() - self._launched_at
        # Its jobs go back at once, not at the next recovery pass.
        gone = Reason.DRAINED if self.state is S.STOPPING else Reason.WORKER_CRASHED
        self.core.scheduler.worker_down(self.worker_id, gone)
        try:
            if self.state is S.STOPPING:
                self._transition(
                    S.STOPPED,
                    f"exited with {status.describe()}",
                    pid=None,
                    stopped_at=utcnow(),
                    exit_code=status.exit_code,
                    exit_signal=status.signal,
                )
            else:
                await self._crashed(
                    f"exited unexpectedly with {status.describe()}", status, ran_for
                )
        except Exception:
            log.exception("%s: failed to record exit", self.worker_id)

    async def _crashed(self, why: str, status: ExitStatus, ran_for: float) -> None:
        """Record a crash, then restart after the backoff or give up."""
        self._errors += 1
        self._transition(
            S.CRASHED,
            why,
            level="error",
            pid=None,
            stopped_at=utcnow(),
            exit_code=status.exit_code,
            exit_signal=status.signal,
            error_count=self._errors,
            last_error=why,
        )
        if self.desired is not DesiredState.RUNNING or not self.config.auto_restart:
            return
        policy = restart_policy(self.core.settings, self.config)
        if policy.was_stable(ran_for):
            self._failures = 0
            self._restart_times.clear()
        now = time.monotonic()
        if policy.budget_spent(self._restart_times, now):
            spent = len(self._restart_times)
            why = f"restart budget spent: {spent} restarts within {policy.window_s:g} s"
            self._transition(S.ERROR, why, level="error", last_error=why)
            return
        self._failures += 1
        self._restart_times.append(now)
        delay = policy.delay_s(self._failures)
        self._restarts += 1
        self._persist(
            next_restart_at=utcnow() + timedelta(seconds=delay), restart_count=self._restarts
        )
        self._restart = asyncio.create_task(self._restart_after(delay))

    async def _restart_after(self, delay_s: float) -> None:
        """Wait out the backoff, then start again unless someone intervened."""
        await asyncio.sleep(delay_s)
        async with self._lock:
            self._restart = None
            if self.state is S.CRASHED and self.desired is DesiredState.RUNNING:
                why = f"auto-restart #{self._restarts} after {delay_s:.3f} s backoff"
                await self._start_locked(why, manual=False)

    def _cancel_restart(self) -> None:
        """Drop a pending auto-restart."""
        if self._restart is not None:
            self._restart.cancel()
            self._restart = None

    def registered(
        self,
        instance_id: str,
        pid: int,
        hostname: str,
        cpu_ids: list[int],
        containment: str | None = None,
        user: str | None = None,
    ) -> int:
        """A worker instance said hello: it counts as running; returns its CPU capacity.

        Its CPUs are recorded as those it uses: the first ``capacity`` it may use.
        """
        if self.state not in (S.STARTING, S.RUNNING, S.LOST):
            raise ForbiddenError(f"worker {self.worker_id} is {self.state}: not expecting it")
        if self.handle is not None and self.handle.pid is not None and pid != self.handle.pid:
            raise ForbiddenError(f"pid {pid} was not started by this master")
        self.instance_id = instance_id
        self.last_contact = time.monotonic()
        now = utcnow()
        cpu_ids = cpu_ids[: self._capacity(cpu_ids)]
        fields: dict[str, Any] = dict(
            instance_id=instance_id,
            hostname=hostname,
            cpu_ids=cpu_ids,
            containment=containment,
            user=user,
            last_heartbeat_at=now,
        )
        why = f"registered as instance {instance_id} (pid {pid})"
        if self.state is S.RUNNING:
            self._event("register", why)
            self._persist(**fields)
        else:
            self._transition(S.RUNNING, why, started_at=now, **fields)
        return self._open_for_jobs(instance_id, cpu_ids)

    def _open_for_jobs(self, instance_id: str, cpu_ids: list[int]) -> int:
        """Give the scheduler this instance's capacity: its usable CPUs, capped by config."""
        cfg = self.config
        capacity = self._capacity(cpu_ids)
        slot = Slot(
            self.worker_id,
            capacity,
            capacity,
            cfg.labels,
            cfg.max_accounts,
            run_as=cfg.run_as,
            allowed_run_as=frozenset(cfg.allowed_run_as),
        )
        local = cfg.deployment_type is DeploymentType.LOCAL
        folder = state_dir(self.core.settings, self.worker_id) if local else None
        ws = WorkerSlot(self.worker_id, instance_id, slot, local, state_dir=folder)
        self.core.scheduler.worker_up(ws)
        self.core.scheduler.fleet[self.worker_id] = fleet_worker(cfg, capacity)
        return capacity

    def _capacity(self, cpu_ids: list[int]) -> int:
        """How many of the CPUs an instance may use its config lets it use."""
        cpus = self.config.cpus
        return min(cpus, len(cpu_ids)) if cpus else len(cpu_ids)

    def touch(self, instance_id: str) -> None:
        """Any request of the current instance renews its lease."""
        # A stopping worker drains its work and keeps heartbeating meanwhile.
        if self.state not in (S.RUNNING, S.STOPPING) or instance_id != self.instance_id:
            raise StaleInstanceError(f"instance {instance_id} is not current")
        self.last_contact = time.monotonic()

    def heartbeat(self, instance_id: str, cpu_percent: float, memory_bytes: int) -> None:
        """Renew the lease of the current instance (in memory: the database is not the lease)."""
        self.touch(instance_id)
        now = time.monotonic()
        if self._last_beat:
            # A gap longer than the lease is a silence, not a measure.
            gap = min(now - self._last_beat, self.core.settings.lease_s)
            self.cpu_seconds += cpu_percent / 100 * gap
        self._last_beat = now
        self._persist(
            last_heartbeat_at=utcnow(),
            cpu_percent=cpu_percent,
            memory_bytes=memory_bytes,
            **self.core.scheduler.usage(self.worker_id),
        )

    def check_lease(self, now: float) -> None:
        """Mark a silent worker lost; kill one that never registers or stays silent."""
        lease = self.core.settings.lease_s
        if self.state is S.RUNNING and now - self.last_contact > lease:
            self._transition(
                S.LOST,
                f"no heartbeat for {now - self.last_contact:.1f} s (lease {lease:g} s)",
                level="warning",
            )
            self.core.scheduler.worker_down(self.worker_id, Reason.WORKER_LOST)
            if self.handle is not None and self.config.auto_restart:
                log.warning("%s: killing the unresponsive process to restart it", self.worker_id)
                self.handle.kill()
        elif (
            self.state is S.STARTING
            and self.handle is not None
            and now - self._launched_at > self.core.settings.start_timeout_s
        ):
            limit = self.core.settings.start_timeout_s
            self._event("error", f"did not register within {limit:g} s: killed", "error")
            self.handle.kill()

    async def restore(self) -> None:
        """At master start: settle what the previous master left, then restore the desired state."""
        if self.state in ACTIVE_STATES:
            if self._stale_pid is not None:
                kill_stale_worker(self._stale_pid, self.worker_id)
            settled = S.CRASHED if self.desired is DesiredState.RUNNING else S.STOPPED
            self._transition(
                settled,
                f"the previous master stopped while the worker was {self.state}",
                level="warning",
                pid=None,
            )
        if self.desired is DesiredState.RUNNING:
            # A worker that never ran (a new config, a new data folder) is not restored.
            ran = self.runtime.started_at is not None
            await self.start("restored at master start" if ran else "auto-start")

    def kill_now(self) -> None:
        """SIGKILL the process at once (a master told to stop immediately)."""
        self._cancel_restart()
        if self.handle is not None:
            self.handle.kill()

    def record_error(self, message: str) -> None:
        """Count an error that is not a transition (a failed restore), and keep it."""
        self._errors += 1
        self._persist(error_count=self._errors, last_error=message)
        self._event("error", message, "error")

"""The lifecycle manager: one supervisor per worker config, auto-start, lease watching."""

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from corral.domain.worker_states import WorkerState
from corral.domain.workers import DeploymentType, WorkerConfig, WorkerRuntime
from corral.errors import InvalidInputError, NotFoundError
from corral.master.core import Core
from corral.master.jobs.slots import fleet_worker
from corral.master.workers.supervisor import WorkerSupervisor
from corral.store.configs import UPDATABLE

log = logging.getLogger("corral.master")


class LifecycleManager:
    """Creates, restores, watches and stops the supervisors of every configured worker."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.supervisors: dict[str, WorkerSupervisor] = {}

    async def start(self) -> None:
        """Load every config, settle what a previous master left, restore desired states."""
        db = self.core.db
        configs = await db.run(db.configs.list)
        runtimes = {rt.worker_id: rt for rt in await db.run(db.runtime.list)}
        _warn_jobs_as_root(configs)
        for cfg in configs:
            runtime = runtimes[cfg.worker_id]
            self.supervisors[cfg.worker_id] = WorkerSupervisor(self.core, cfg, runtime)
            self.core.scheduler.fleet[cfg.worker_id] = fleet_worker(cfg, len(runtime.cpu_ids))
        await asyncio.gather(*(self._restore(s) for s in self.supervisors.values()))

    async def _restore(self, sup: WorkerSupervisor) -> None:
        """Restore one worker; a failure is recorded, not fatal to the master."""
        try:
            await sup.restore()
        except Exception as exc:
            log.exception("%s: could not be restored", sup.worker_id)
            sup.record_error(f"could not be restored: {exc}")

    def get(self, worker_id: str) -> WorkerSupervisor:
        """The supervisor of ``worker_id``."""
        sup = self.supervisors.get(worker_id)
        if sup is None:
            raise NotFoundError(f"no worker {worker_id!r}")
        return sup

    async def add(self, config: WorkerConfig) -> WorkerConfig:
        """Store a new config and, when it says auto_start, start the worker."""
        db = self.core.db
        self._check(config)
        created = await db.write(db.configs.create, config)
        _warn_jobs_as_root([created])
        runtime = WorkerRuntime(worker_id=created.worker_id, updated_at=created.created_at)
        sup = WorkerSupervisor(self.core, created, runtime)
        self.supervisors[created.worker_id] = sup
        self.core.scheduler.fleet[created.worker_id] = fleet_worker(created)
        if created.auto_start:
            await sup.start("auto-start of a new config")
        return created

    async def update(self, worker_id: str, changes: Mapping[str, Any]) -> WorkerConfig:
        """Change a config; a running worker picks it up at its next start.

        Until then the fleet counts the CPUs the running instance has, as its status does.
        """
        sup = self.get(worker_id)
        # Unknown fields are the store's to refuse, with its own message.
        self._check(replace(sup.config, **{k: v for k, v in changes.items() if k in UPDATABLE}))
        updated = await self.core.db.write(self.core.db.configs.update, worker_id, changes)
        sup.config = updated
        running = sup.state is WorkerState.RUNNING and sup.runtime.cpu_ids
        capacity = len(sup.runtime.cpu_ids) if running else None
        self.core.scheduler.fleet[worker_id] = fleet_worker(updated, capacity)
        return updated

    def _check(self, config: WorkerConfig) -> None:
        """Refuse (422) a config this master could never start as it stands."""
        launchable = sorted(str(t) for t in self.core.launchers)
        if config.deployment_type not in self.core.launchers:
            raise InvalidInputError(
                f"deployment_type: this master cannot launch {config.deployment_type} workers;"
                f" it launches {', '.join(launchable)}"
            )
        self.core.local_cpus.check(config)

    async def remove(self, worker_id: str) -> None:
        """Stop the worker if it runs, then delete its config."""
        sup = self.get(worker_id)
        self.core.db.check_available()  # before the stop: a 503 must leave it as it was
        await sup.stop(
            graceful=True, timeout_s=self.core.settings.stop_timeout_s, reason="config deleted"
        )
        await self.core.db.write(self.core.db.configs.delete, worker_id)
        self.core.local_cpus.release(worker_id)
        self.core.log_files.close(worker_id)
        del self.supervisors[worker_id]
        self.core.scheduler.fleet.pop(worker_id, None)

    def lease_check_interval_s(self) -> float:
        """A few checks per lease."""
        return min(self.core.settings.lease_s / 5, 0.5)

    def check_leases(self) -> None:
        """Check heartbeat leases and start deadlines of every worker."""
        now = time.monotonic()
        for sup in list(self.supervisors.values()):
            try:
                sup.check_lease(now)
            except Exception:
                log.exception("%s: lease check failed", sup.worker_id)

    async def shutdown(self) -> None:
        """Stop every worker gracefully, keeping desired states for the next master."""
        timeout = self.core.settings.stop_timeout_s
        results = await asyncio.gather(
            *(s.shutdown(timeout) for s in self.supervisors.values()), return_exceptions=True
        )
        for sup, result in zip(self.supervisors.values(), results, strict=True):
            if isinstance(result, BaseException):
                log.error("%s: shutdown failed: %s", sup.worker_id, result)

    def kill_all(self) -> None:
        """SIGKILL every worker now: the second signal means stop at once."""
        for sup in self.supervisors.values():
            sup.kill_now()


def _warn_jobs_as_root(configs: list[WorkerConfig]) -> None:
    """Local workers of a master running as root run their jobs as root unless told otherwise."""
    if os.geteuid() != 0:
        return
    as_root = [
        c.worker_id
        for c in configs
        if c.deployment_type is DeploymentType.LOCAL and c.run_as is None
    ]
    if as_root:
        log.warning(
            "running as root: the jobs of %s run as root, able to read every token and key; "
            'give their configs a run_as (such as "nobody") unless they need root',
            ", ".join(as_root),
        )

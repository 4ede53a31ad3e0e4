"""What every worker supervisor shares: settings, database, launchers, logs, tokens."""

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from corral.domain.restart_policy import RestartPolicy
from corral.domain.workers import DeploymentType, WorkerConfig
from corral.errors import ConflictError
from corral.launchers.base import Launcher, LaunchSpec
from corral.master.database import Database
from corral.master.jobs.scheduler import Scheduler
from corral.master.tokens import Tokens
from corral.master.workers.log_files import WorkerLogFiles
from corral.protocol import (
    ENV_DRAIN_TIMEOUT,
    ENV_MASTER_URL,
    ENV_PARENT_PID,
    ENV_STATE_DIR,
    ENV_TOKEN,
    ENV_WORKER_ID,
)
from corral.settings import MasterSettings


@dataclass
class SupervisorContext:
    """Shared services handed to each WorkerSupervisor."""

    settings: MasterSettings
    db: Database
    tokens: Tokens
    log_files: WorkerLogFiles
    launchers: Mapping[DeploymentType, Launcher]
    scheduler: Scheduler

    def launcher_for(self, config: WorkerConfig) -> Launcher:
        """The launcher of the config's deployment type, or a clear refusal."""
        launcher = self.launchers.get(config.deployment_type)
        if launcher is None:
            raise ConflictError(f"no {config.deployment_type} launcher is available on this master")
        return launcher

    def launch_spec(self, config: WorkerConfig) -> LaunchSpec:
        """The command and environment that start this worker."""
        argv = [sys.executable, "-m", "corral.worker"]
        argv += ["--master", self.settings.url, "--worker-id", config.worker_id]
        env = {**config.env, **config.secret_env}
        env.update(
            {
                ENV_MASTER_URL: self.settings.url,
                ENV_WORKER_ID: config.worker_id,
                ENV_TOKEN: self.tokens.worker_token(config.worker_id),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if config.deployment_type is DeploymentType.LOCAL:
            env[ENV_PARENT_PID] = str(os.getpid())
            env[ENV_STATE_DIR] = str(self.settings.data_dir.resolve() / "run" / config.worker_id)
            # The worker must hand its jobs back before the master's stop timeout kills it.
            env[ENV_DRAIN_TIMEOUT] = f"{max(0.0, self.settings.stop_timeout_s - 2.0):g}"
        return LaunchSpec(config=config, argv=argv, env=env)

    def restart_policy(self, config: WorkerConfig) -> RestartPolicy:
        """Backoff and budget for this worker, from its config and the master settings."""
        return RestartPolicy(
            base_delay_s=config.restart_delay_ms / 1000.0,
            max_restart_attempts=config.max_restart_attempts,
            window_s=self.settings.restart_window_s,
            max_delay_s=self.settings.restart_max_delay_s,
            stable_after_s=self.settings.stable_after_s,
        )

"""How a worker is started: its command and environment, and its restart policy."""

import json
import os
import sys
from pathlib import Path

from corral.domain.restart_policy import RestartPolicy
from corral.domain.workers import DeploymentType, WorkerConfig
from corral.launchers.base import LaunchSpec
from corral.master.core import Core
from corral.master.tls import served_fingerprint
from corral.protocol import (
    ENV_CPU_IDS,
    ENV_DRAIN_TIMEOUT,
    ENV_LOG_TIME,
    ENV_MASTER_URL,
    ENV_PARENT_PID,
    ENV_STATE_DIR,
    ENV_WORKER_ID,
    Secrets,
)
from corral.settings import MasterSettings


def launch_spec(core: Core, config: WorkerConfig) -> LaunchSpec:
    """The command and environment that start this worker, and what goes to its stdin.

    Its token and its jobs' secret variables go through its stdin: its command line and
    environment are open to its jobs (to all of them where they run as root).
    """
    settings = core.settings
    argv = [sys.executable, "-m", "corral.worker", "--token-stdin"]
    argv += ["--master", settings.url, "--worker-id", config.worker_id]
    argv += trust_options(settings, config)
    env = dict(config.env)
    env.update(
        {
            ENV_MASTER_URL: settings.url,
            ENV_WORKER_ID: config.worker_id,
            "PYTHONUNBUFFERED": "1",
            # The master stamps every line it stores: one time a line, not two.
            ENV_LOG_TIME: "off",
        }
    )
    if config.deployment_type is DeploymentType.LOCAL:
        env[ENV_PARENT_PID] = str(os.getpid())
        env[ENV_STATE_DIR] = str(state_dir(settings, config.worker_id))
        # The worker must hand its jobs back before the master's stop timeout kills it.
        env[ENV_DRAIN_TIMEOUT] = f"{max(0.0, settings.stop_timeout_s - 2.0):g}"
        env[ENV_CPU_IDS] = ",".join(str(cpu) for cpu in core.local_cpus.assign(config))
    secrets = Secrets(
        token=core.tokens.worker_token(config.worker_id), secret_env=dict(config.secret_env)
    )
    return LaunchSpec(config=config, argv=argv, env=env, stdin=json.dumps(secrets).encode())


def trust_options(settings: MasterSettings, config: WorkerConfig) -> list[str]:
    """How the worker trusts the master's certificate: as configured, else (local) its pin."""
    if settings.tls_cert is None:
        return []  # a plain HTTP master has no certificate to check
    options = []
    if config.master_ca:
        options += ["--master-ca", config.master_ca]
    if config.master_fingerprint:
        options += ["--master-fingerprint", config.master_fingerprint]
    local = config.deployment_type is DeploymentType.LOCAL
    if not options and local:
        options += ["--master-fingerprint", served_fingerprint(settings.tls_cert)]
    return options


def state_dir(settings: MasterSettings, worker_id: str) -> Path:
    """Where a local worker keeps its ledgers, inside the data folder."""
    return settings.data_dir.resolve() / "run" / worker_id


def restart_policy(settings: MasterSettings, config: WorkerConfig) -> RestartPolicy:
    """Backoff and budget for this worker, from its config and the master settings."""
    return RestartPolicy(
        base_delay_s=config.restart_delay_ms / 1000.0,
        max_restart_attempts=config.max_restart_attempts,
        window_s=settings.restart_window_s,
        max_delay_s=settings.restart_max_delay_s,
        stable_after_s=settings.stable_after_s,
    )

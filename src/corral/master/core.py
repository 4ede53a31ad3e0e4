"""The master's shared services: what every part of it may use, built once per process."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from corral.domain.workers import DeploymentType, WorkerConfig
from corral.errors import ConflictError
from corral.launchers.base import Launcher
from corral.master.database import Database
from corral.master.jobs.scheduler import Scheduler
from corral.master.local_cpus import LocalCpus
from corral.master.log_files import WorkerLogFiles
from corral.master.tokens import Tokens
from corral.master.writer import Writer
from corral.settings import MasterSettings


@dataclass
class Core:
    """Settings, the database and its writer, tokens, log files, launchers, the scheduler.

    Also the CPU sets of its local workers.
    """

    settings: MasterSettings
    db: Database
    writer: Writer
    tokens: Tokens
    log_files: WorkerLogFiles
    launchers: Mapping[DeploymentType, Launcher]
    scheduler: Scheduler
    local_cpus: LocalCpus = field(default_factory=LocalCpus)

    def launcher_for(self, config: WorkerConfig) -> Launcher:
        """The launcher of the config's deployment type, or a clear refusal."""
        launcher = self.launchers.get(config.deployment_type)
        if launcher is None:
            raise ConflictError(f"no {config.deployment_type} launcher is available on this master")
        return launcher

"""The CPU sets of the master's local workers: placed at each start, released at exit."""

from corral.domain.cpu_sets import place, refusal
from corral.domain.workers import DeploymentType, WorkerConfig
from corral.errors import InvalidInputError
from corral.worker.cpus import usable_cpus


class LocalCpus:
    """Hands each starting local worker the CPUs the others use least."""

    def __init__(self, host: list[int] | None = None) -> None:
        # The master's own CPUs: its local workers inherit its affinity and cgroup.
        self.host = host if host is not None else usable_cpus()
        self.held: dict[str, list[int]] = {}

    def assign(self, config: WorkerConfig) -> list[int]:
        """The CPUs of a local worker about to start: its own cpu_ids, or the least used."""
        others = [ids for wid, ids in self.held.items() if wid != config.worker_id]
        if config.cpu_ids:
            ids = [cpu for cpu in config.cpu_ids if cpu in self.host] or list(self.host)
        else:
            ids = place(self.host, config.cpus, others)
        self.held[config.worker_id] = ids
        return ids

    def release(self, worker_id: str) -> None:
        """The worker has exited: its CPUs are free for the next one to start."""
        self.held.pop(worker_id, None)

    def check(self, config: WorkerConfig) -> None:
        """Refuse (422) a local config asking for CPUs this host does not have."""
        if config.deployment_type is not DeploymentType.LOCAL:
            return
        why = refusal(self.host, config.cpus, config.cpu_ids)
        if why is not None:
            raise InvalidInputError(why)

"""The hard stop: end every process the master started, at once, from a signal handler."""

from corral.domain.workers import DeploymentType
from corral.master.services import Services
from corral.master.stale_process import kill_job_process


def kill_everything(services: Services) -> None:
    """SIGKILL every local worker with the jobs it started, then every job the master knows.

    Jobs lead process groups of their own: killing a worker's group leaves them
    running. The launcher kills the worker's children; the jobs the scheduler
    knows of (reported pid and start time) cover a worker that was already gone.
    """
    lifecycle = services.lifecycle
    lifecycle.kill_all()
    for job in list(services.scheduler.jobs.values()):
        sup = lifecycle.supervisors.get(job.worker_id or "")
        if sup is not None and sup.config.deployment_type is DeploymentType.LOCAL:
            kill_job_process(job)

"""The Prometheus exposition of the master's live view, built at each scrape.

A custom collector reads the scheduler, the supervisors and the job tally when it
is asked: no series outlives the worker it describes, and nothing is registered
globally. Labels are bounded: states, outcomes and worker ids, never a job or a
command.
"""

import platform
from collections import Counter
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from corral import __version__
from corral.domain.jobs import TERMINAL, JobState
from corral.domain.worker_states import DesiredState, WorkerState
from corral.master.jobs.tally import Histogram
from corral.master.services import Services
from corral.master.workers.supervisor import WorkerSupervisor

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class FleetCollector(Collector):
    """Jobs and workers as the master sees them now."""

    def __init__(self, svc: Services, stored: Mapping[str, int]) -> None:
        self.svc = svc
        self.stored = stored  # jobs per state in the database; memory is ahead for live ones

    def collect(self) -> Iterator[Metric]:
        """Every family, in a stable order."""
        info = InfoMetricFamily("corral_build", "The master's version.")
        info.add_metric([], {"version": __version__, "python": platform.python_version()})
        yield info
        yield from self._jobs()
        yield from self._workers()
        yield from self._alerts()

    def _alerts(self) -> Iterator[Metric]:
        firing = GaugeMetricFamily(
            "corral_alerts_firing", "Alerts firing now, by rule.", labels=["alertname"]
        )
        for name, count in sorted(self.svc.alerts.firing().items()):
            firing.add_metric([name], count)
        yield firing
        deliveries = CounterMetricFamily(
            "corral_webhook_deliveries",
            "Webhook delivery attempts since the master started: delivered, failed "
            "(to be tried again) or dead (given up).",
            labels=["result"],
        )
        for result, count in sorted(self.svc.courier.results.items()):
            deliveries.add_metric([result], count)
        yield deliveries

    def _jobs(self) -> Iterator[Metric]:
        scheduler = self.svc.scheduler
        tally = scheduler.book.tally
        live = Counter(str(job.state) for job in scheduler.jobs.values())
        jobs = GaugeMetricFamily("corral_jobs", "Jobs by state.", labels=["state"])
        for state in JobState:
            count = self.stored.get(str(state), 0) if state in TERMINAL else live[str(state)]
            jobs.add_metric([str(state)], count)
        yield jobs
        submitted = CounterMetricFamily(
            "corral_jobs_submitted", "Jobs submitted since the master started."
        )
        submitted.add_metric([], tally.submitted)
        yield submitted
        finished = CounterMetricFamily(
            "corral_jobs_finished",
            "Jobs finished for good since the master started, by outcome.",
            labels=["outcome"],
        )
        for state in sorted(TERMINAL):
            finished.add_metric([str(state)], tally.finished[str(state)])
        yield finished
        yield _histogram(
            "corral_job_queue_wait_seconds",
            "Time from becoming pending to assignment.",
            tally.queue_wait,
        )
        yield _histogram(
            "corral_job_run_duration_seconds",
            "Time from start to the end of jobs finished for good.",
            tally.run_time,
        )
        pending_cpus = GaugeMetricFamily(
            "corral_jobs_pending_cpus", "CPUs asked for by pending jobs."
        )
        pending = [j for j in scheduler.jobs.values() if j.state is JobState.PENDING]
        pending_cpus.add_metric([], sum(j.spec.cpus for j in pending))
        yield pending_cpus

    def _workers(self) -> Iterator[Metric]:
        supervisors = sorted(self.svc.lifecycle.supervisors.values(), key=lambda s: s.worker_id)
        states = Counter(sup.state for sup in supervisors)
        workers = GaugeMetricFamily("corral_workers", "Workers by state.", labels=["state"])
        for state in WorkerState:
            workers.add_metric([str(state)], states[state])
        yield workers
        for name, documentation, kind, value in PER_WORKER:
            family = kind(name, documentation, labels=["worker"])
            for sup in supervisors:
                figure = value(sup, self.svc.scheduler.usage(sup.worker_id))
                if figure is not None:
                    family.add_metric([sup.worker_id], figure)
            yield family


Usage = dict[str, int]
PerWorker = Callable[[WorkerSupervisor, Usage], float | None]
G, C = GaugeMetricFamily, CounterMetricFamily
Family = type[GaugeMetricFamily] | type[CounterMetricFamily]
PER_WORKER: list[tuple[str, str, Family, PerWorker]] = [
    ("corral_worker_up", "1 if the worker is running.", G, lambda s, u: _running(s)),
    (
        "corral_worker_desired_up",
        "1 if the worker should run (started, or auto-start).",
        G,
        lambda s, u: 1.0 if s.desired is DesiredState.RUNNING else 0.0,
    ),
    ("corral_worker_cpus", "CPUs the worker offers to jobs.", G, lambda s, u: _cpus(s)),
    (
        "corral_worker_cpus_allocated",
        "CPUs held by the worker's jobs.",
        G,
        lambda s, u: u["cpus_allocated"],
    ),
    (
        "corral_worker_jobs_running",
        "Jobs assigned to or running on the worker.",
        G,
        lambda s, u: u["active_jobs"],
    ),
    (
        "corral_worker_restarts",
        "Restarts after crashes.",
        C,
        lambda s, u: s.runtime.restart_count,
    ),
    (
        "corral_worker_resident_memory_bytes",
        "Resident memory of the worker and its jobs at its last heartbeat.",
        G,
        # None until the worker has measured it: no sample rather than a false 0.
        lambda s, u: s.runtime.memory_bytes,
    ),
    (
        "corral_worker_cpu_seconds",
        "CPU time of the worker and its jobs, from its heartbeats since the master started.",
        C,
        lambda s, u: s.cpu_seconds,
    ),
    (
        "corral_worker_last_heartbeat_timestamp_seconds",
        "Unix time of the worker's last heartbeat.",
        G,
        lambda s, u: _last_beat(s),
    ),
]


def _running(sup: WorkerSupervisor) -> float:
    return 1.0 if sup.state is WorkerState.RUNNING else 0.0


def _cpus(sup: WorkerSupervisor) -> float:
    return sup.config.cpus or len(sup.runtime.cpu_ids)


def _last_beat(sup: WorkerSupervisor) -> float | None:
    at = sup.runtime.last_heartbeat_at
    return None if at is None else at.timestamp()


def _histogram(name: str, documentation: str, histogram: Histogram) -> HistogramMetricFamily:
    """A tally histogram as a Prometheus one."""
    family = HistogramMetricFamily(name, documentation)
    family.add_metric([], histogram.cumulative(), histogram.total)
    return family


def exposition(svc: Services, stored: Mapping[str, int]) -> bytes:
    """The text exposition of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(svc, stored))
    return generate_latest(registry)

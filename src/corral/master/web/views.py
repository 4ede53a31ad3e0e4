"""What the pages show, gathered from the master's memory and its database."""

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from corral.domain.jobs import JobState
from corral.domain.worker_states import WorkerState
from corral.master.api.alert_rules import alert_list, rule_list
from corral.master.api.schemas import WorkerConfigOut, WorkerStatusOut
from corral.master.api.webhooks import DeliveryOut, WebhookOut
from corral.master.services import Services

SORTS = ("worker_id", "state", "cpus", "jobs", "cpu_percent", "memory", "restarts", "heartbeat")
RECENT_EVENTS = 15
RECENT_DELIVERIES = 50
CHART_WINDOWS = ("15m", "1h", "6h", "24h")


@dataclass(frozen=True)
class Chart:
    """One chart of the Metrics page: the history series it draws."""

    id: str
    title: str
    series: tuple[str, ...]
    unit: str


CHARTS = (
    Chart("cpu", "CPU per worker", ("cpu_percent",), "%"),
    Chart("memory", "Memory per worker", ("memory_bytes",), "bytes"),
    Chart("allocated", "CPUs allocated per worker", ("cpus_allocated",), "CPUs"),
    Chart("queue", "Queue depth", ("jobs_pending", "pending_cpus"), ""),
    Chart("running", "Running jobs and workers", ("jobs_running", "workers_running"), ""),
    Chart(
        "finished",
        "Finished per minute, by outcome",
        ("succeeded_per_min", "failed_per_min", "timed_out_per_min", "cancelled_per_min"),
        "/min",
    ),
    Chart("wait", "Queue wait", ("queue_wait_p50_s", "queue_wait_p95_s"), "s"),
    Chart("runtime", "Run time", ("run_p50_s", "run_p95_s"), "s"),
)


@dataclass
class WorkerRow:
    """One worker as the Workers page shows it."""

    status: WorkerStatusOut
    config: WorkerConfigOut

    def sort_key(self, sort: str) -> Any:
        """The value the table sorts on for column ``sort``."""
        st = self.status
        return {
            "worker_id": st.worker_id,
            "state": st.state,
            "cpus": st.cpus_allocated,
            "jobs": st.active_jobs,
            "cpu_percent": st.cpu_percent or 0.0,
            "memory": st.memory_bytes or 0,
            "restarts": st.restart_count,
            "heartbeat": st.last_heartbeat_at.timestamp() if st.last_heartbeat_at else 0.0,
        }[sort]


@dataclass
class WorkerFilter:
    """The Workers page's filters and sort, as they stand in its URL."""

    state: str = ""
    label: str = ""
    type: str = ""
    sort: str = "worker_id"
    desc: bool = False
    labels: dict[str, str] = field(default_factory=dict)

    def matches(self, row: WorkerRow) -> bool:
        """Whether a worker passes every filter given."""
        if self.state and row.status.state != self.state:
            return False
        if self.type and str(row.config.deployment_type) != self.type:
            return False
        key, has_value, value = self.label.partition("=")
        if key and key not in row.config.labels:
            return False
        return not (has_value and row.config.labels.get(key) != value)


def worker_rows(svc: Services, wanted: WorkerFilter | None = None) -> list[WorkerRow]:
    """Every worker passing the filter, sorted as asked."""
    wanted = wanted or WorkerFilter()
    rows = [
        WorkerRow(WorkerStatusOut.of(sup.config, sup.runtime), WorkerConfigOut.of(sup.config))
        for sup in svc.lifecycle.supervisors.values()
    ]
    rows = [row for row in rows if wanted.matches(row)]
    sort = wanted.sort if wanted.sort in SORTS else "worker_id"
    return sorted(rows, key=lambda row: row.sort_key(sort), reverse=wanted.desc)


async def overview(svc: Services) -> dict[str, Any]:
    """The fleet at a glance: states, CPUs, the queue and what happened lately."""
    rows = worker_rows(svc)
    running = [r.status for r in rows if r.status.state == str(WorkerState.RUNNING)]
    jobs = list(svc.scheduler.jobs.values())
    pending = [j for j in jobs if j.state is JobState.PENDING]
    oldest = min((j.submitted_at for j in pending if j.submitted_at), default=None)
    cpus = sum(len(st.cpu_ids) for st in running)
    allocated = sum(st.cpus_allocated for st in running)
    events = await svc.db.read(svc.db.logs.recent, RECENT_EVENTS)
    return {
        "workers_by_state": _counts(Counter(r.status.state for r in rows), WorkerState),
        "workers_total": len(rows),
        "jobs_by_state": _counts(Counter(str(j.state) for j in jobs), JobState),
        "cpus": cpus,
        "cpus_allocated": allocated,
        "cpus_free": cpus - allocated,
        "queue_depth": len(pending),
        "oldest_pending": oldest,
        "events": events,
        "rendered_at": time.time(),
    }


def _counts(counts: Counter[str], states: Any) -> dict[str, int]:
    """Counts for every state of an enum, zeros included, in the enum's order."""
    return {str(s): counts.get(str(s), 0) for s in states}


async def alerts(svc: Services) -> dict[str, Any]:
    """Rules and their alerts, webhooks, and the latest deliveries to any of them."""
    hooks = await svc.db.read(svc.db.webhooks.all)
    sent = await svc.db.read(svc.db.webhooks.deliveries, None, RECENT_DELIVERIES)
    return {
        "rules": rule_list(svc).rules,
        "alerts": alert_list(svc).alerts,
        "webhooks": [WebhookOut.of(h) for h in hooks],
        "deliveries": [DeliveryOut.of(d) for d in sent],
    }

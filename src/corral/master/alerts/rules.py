"""The built-in alert rules: what each watches, its threshold, and how long before it fires."""

from dataclasses import dataclass, replace
from typing import Any, Literal

RuleName = Literal[
    "worker_down",
    "worker_crash_loop",
    "worker_cpu_high",
    "worker_memory_high",
    "queue_backlog",
    "queue_oldest_pending",
    "jobs_unrunnable",
    "job_failure_ratio",
    "no_worker_running",
]


@dataclass(frozen=True)
class Rule:
    """A rule as it stands: its meaning, and the settings an operator may tune."""

    name: str
    summary: str
    threshold_means: str
    threshold: float
    for_s: float
    repeat_interval_s: float = 4 * 3600.0
    enabled: bool = True

    def tuned(self, **changes: Any) -> "Rule":
        """The rule with some settings changed (None leaves a setting as it is)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


BUILT_IN: tuple[Rule, ...] = (
    Rule(
        "worker_down",
        "A worker that should run is not running, or its heartbeat is stale.",
        "seconds without a heartbeat",
        10.0,
        60.0,
    ),
    Rule(
        "worker_crash_loop",
        "A worker restarted after crashes more than the threshold in 10 min, or is in error.",
        "restarts in 10 minutes",
        3.0,
        0.0,
    ),
    Rule(
        "worker_cpu_high",
        "A worker and its jobs use more CPU than the threshold, in % of its CPUs.",
        "percent of the worker's CPUs",
        90.0,
        300.0,
    ),
    Rule(
        "worker_memory_high",
        "A local worker and its jobs hold more memory than the threshold, in % of the host's.",
        "percent of the host's memory",
        90.0,
        300.0,
    ),
    Rule(
        "queue_backlog",
        "More jobs are pending than the threshold.",
        "pending jobs",
        100.0,
        300.0,
    ),
    Rule(
        "queue_oldest_pending",
        "The oldest pending job has waited longer than the threshold.",
        "seconds the oldest pending job waited",
        600.0,
        60.0,
    ),
    Rule(
        "jobs_unrunnable",
        "Pending jobs that no configured worker can ever run (their CPUs, labels or user).",
        "such jobs (fires above it)",
        0.0,
        60.0,
    ),
    Rule(
        "job_failure_ratio",
        "The share of jobs that failed or timed out, of those that finished in 10 min.",
        "ratio from 0 to 1",
        0.5,
        300.0,
    ),
    Rule(
        "no_worker_running",
        "Jobs are pending and no worker is running.",
        "pending jobs (fires above it)",
        0.0,
        60.0,
    ),
)
RULES: dict[str, Rule] = {rule.name: rule for rule in BUILT_IN}

"""Each rule's check: which alerts breach its threshold in a snapshot, with their value.

Pure functions of a snapshot: an alert is its labels (beyond ``alertname``) and the
figure the threshold was compared with.
"""

from collections.abc import Callable

from corral.master.alerts.snapshot import Snapshot, WorkerView

Labels = dict[str, str]
Breach = tuple[Labels, float]
Check = Callable[[Snapshot, float], list[Breach]]
UP = ("running", "stopping")


def _per_worker(
    snap: Snapshot, value: Callable[[WorkerView], float | None], threshold: float
) -> list[Breach]:
    """One alert per worker whose figure is over the threshold (None: not concerned)."""
    out = []
    for worker in snap.workers:
        figure = value(worker)
        if figure is not None and figure > threshold:
            out.append(({"worker": worker.worker_id}, figure))
    return out


def worker_down(snap: Snapshot, threshold: float) -> list[Breach]:
    """Workers that should run and do not, or whose heartbeat is older than the threshold."""
    out = []
    for w in snap.workers:
        if not w.should_run:
            continue
        age = w.heartbeat_age_s
        if w.state not in UP:
            out.append(({"worker": w.worker_id}, age if age is not None else 0.0))
        elif age is not None and age > threshold:
            out.append(({"worker": w.worker_id}, age))
    return out


def worker_crash_loop(snap: Snapshot, threshold: float) -> list[Breach]:
    """Workers restarted more than the threshold within the window, or in error."""
    out = []
    for w in snap.workers:
        if w.restarts_in_window > threshold or w.state == "error":
            out.append(({"worker": w.worker_id}, float(w.restarts_in_window)))
    return out


def worker_cpu_high(snap: Snapshot, threshold: float) -> list[Breach]:
    """Running workers whose CPU use, in % of their CPUs, is over the threshold."""
    return _per_worker(snap, lambda w: w.cpu_percent / w.cpus if w.state in UP else None, threshold)


def worker_memory_high(snap: Snapshot, threshold: float) -> list[Breach]:
    """Running local workers whose memory, in % of the host's, is over the threshold."""
    total = snap.host_memory_bytes or 1
    return _per_worker(
        snap,
        lambda w: 100.0 * w.memory_bytes / total if w.state in UP and w.local else None,
        threshold,
    )


def _fleet(value: float, threshold: float) -> list[Breach]:
    """The one fleet-wide alert when its figure is over the threshold."""
    return [({}, value)] if value > threshold else []


def queue_backlog(snap: Snapshot, threshold: float) -> list[Breach]:
    """More pending jobs than the threshold."""
    return _fleet(snap.pending, threshold)


def queue_oldest_pending(snap: Snapshot, threshold: float) -> list[Breach]:
    """The oldest pending job waited longer than the threshold."""
    return _fleet(snap.oldest_pending_s, threshold) if snap.pending else []


def jobs_unrunnable(snap: Snapshot, threshold: float) -> list[Breach]:
    """More pending jobs than the threshold that no configured worker can run."""
    return _fleet(snap.unrunnable, threshold)


def job_failure_ratio(snap: Snapshot, threshold: float) -> list[Breach]:
    """The share of finished jobs that failed or timed out, over the threshold."""
    if not snap.finished_in_window:
        return []
    return _fleet(snap.failed_in_window / snap.finished_in_window, threshold)


def no_worker_running(snap: Snapshot, threshold: float) -> list[Breach]:
    """Pending jobs over the threshold and no worker running."""
    if any(w.state == "running" for w in snap.workers):
        return []
    return _fleet(snap.pending, threshold)


CHECKS: dict[str, Check] = {
    "worker_down": worker_down,
    "worker_crash_loop": worker_crash_loop,
    "worker_cpu_high": worker_cpu_high,
    "worker_memory_high": worker_memory_high,
    "queue_backlog": queue_backlog,
    "queue_oldest_pending": queue_oldest_pending,
    "jobs_unrunnable": jobs_unrunnable,
    "job_failure_ratio": job_failure_ratio,
    "no_worker_running": no_worker_running,
}

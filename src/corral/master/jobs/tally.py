"""Counters and histograms of the jobs this master has seen since it started.

Kept in memory and exported at scrape time: a Prometheus counter resets with its
process, which rate() understands. Labels stay bounded: outcomes are job states.
"""

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

# Seconds: from dispatch in milliseconds to jobs that wait or run for hours.
BUCKETS_S = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    14400.0,
)


@dataclass
class Histogram:
    """Observations counted per bucket (not cumulative), with their sum."""

    bounds: tuple[float, ...] = BUCKETS_S
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_S) + 1))
    total: float = 0.0

    def observe(self, value: float) -> None:
        """Count one observation (negative ones, from a clock step, count as 0)."""
        value = max(0.0, value)
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        """The buckets as Prometheus wants them: cumulative, ending with +Inf."""
        out, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return out


# Observations kept between two history samples for their percentiles: enough for
# any fleet, bounded against a burst.
MAX_RECENT = 10_000


@dataclass
class Recent:
    """Observations since the history last took them."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        """Keep one observation, if there is room."""
        if len(self.values) < MAX_RECENT:
            self.values.append(value)

    def take(self) -> list[float]:
        """The observations since the last take, sorted."""
        values, self.values = sorted(self.values), []
        return values


@dataclass
class JobTally:
    """Jobs submitted and finished, how long they waited and ran."""

    submitted: int = 0
    finished: Counter[str] = field(default_factory=Counter)
    queue_wait: Histogram = field(default_factory=Histogram)
    run_time: Histogram = field(default_factory=Histogram)
    recent_waits: Recent = field(default_factory=Recent)
    recent_runs: Recent = field(default_factory=Recent)

    def on_submitted(self, count: int) -> None:
        """New jobs were stored."""
        self.submitted += count

    def on_assigned(self, waiting_since: datetime | None, now: datetime) -> None:
        """A job left the queue for a worker."""
        if waiting_since is not None:
            waited = (now - waiting_since).total_seconds()
            self.queue_wait.observe(waited)
            self.recent_waits.add(waited)

    def on_finished(self, state: str, started: datetime | None, now: datetime) -> None:
        """A job ended for good, in ``state``."""
        self.finished[state] += 1
        if started is not None:
            ran = (now - started).total_seconds()
            self.run_time.observe(ran)
            self.recent_runs.add(ran)

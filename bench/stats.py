"""Small statistics for benchmark reports."""

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary_ms(values_s: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max of durations given in seconds, reported in milliseconds."""
    return {
        "p50_ms": round(percentile(values_s, 50) * 1000, 1),
        "p90_ms": round(percentile(values_s, 90) * 1000, 1),
        "p99_ms": round(percentile(values_s, 99) * 1000, 1),
        "max_ms": round(max(values_s) * 1000, 1),
        "mean_ms": round(statistics.fmean(values_s) * 1000, 1),
        "n": len(values_s),
    }

"""The text report: one aligned line per figure, percentiles folded onto one line."""

from typing import Any


def cell(value: Any) -> str:
    """A figure as text; a percentile summary as ``p50 / p90 / p99 / max ms (n)``."""
    if isinstance(value, dict) and "p50_ms" in value:
        return (
            f"p50 {value['p50_ms']}  p90 {value['p90_ms']}  p99 {value['p99_ms']}  "
            f"max {value['max_ms']} ms  (n={value['n']})"
        )
    return str(value)


def lines(results: dict[str, dict[str, Any]]) -> list[str]:
    """The report of every suite run, a heading per suite."""
    out = []
    for name, result in results.items():
        out.append(f"== {name}")
        width = max((len(key) for key in result), default=0)
        out += [f"  {key.ljust(width)}  {cell(value)}" for key, value in result.items()]
    return out

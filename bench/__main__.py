"""Run benchmarks by name and print a report (``python -m bench all``)."""

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from bench import alerts, chaos, dashboard, history, jobs, report, supervision, tls

SUITES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "restart": supervision.restart_latency,
    "idle": supervision.idle_master,
    "coldstart": supervision.cold_start,
    "throughput": jobs.throughput,
    "latency": jobs.latency,
    "recovery": jobs.recovery,
    "chaos": chaos.chaos,
    "auth": jobs.auth_cost,
    "tls": tls.tls_cost,
    "dashboard": dashboard.dashboard,
    "history": history.history_cost,
    "alerts": alerts.webhook_latency,
}
# Names that stand for several suites.
GROUPS = {
    "all": [name for name in SUITES if name != "chaos"],
    "jobs": ["throughput", "latency", "recovery"],
}
# Rounds when --rounds is not given: enough for a stable median without taking all day.
DEFAULT_ROUNDS = {"throughput": 5, "latency": 1, "recovery": 10, "auth": 4, "tls": 4}


def main() -> int:
    """Parse arguments, run the chosen suites, print text or JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "suites", nargs="*", default=["all"], help=f"all, jobs, or {', '.join(SUITES)}"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="repetitions where it applies [default: 5 throughput, 1 latency, 10 recovery, 20]",
    )
    parser.add_argument(
        "--jobs", type=int, help="jobs per round [1000 throughput, 200 latency, 2000 chaos]"
    )
    parser.add_argument(
        "--workers", type=int, default=20, help="workers for the idle and dashboard suites"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="idle measuring window")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    names = list(dict.fromkeys(n for s in args.suites for n in GROUPS.get(s, [s])))
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(unknown)}")
    results = {name: SUITES[name](with_rounds(args, name)) for name in names}
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        print("\n".join(report.lines(results)))
    return 0


def with_rounds(args: argparse.Namespace, suite: str) -> argparse.Namespace:
    """The arguments of one suite, its own default number of rounds filled in."""
    rounds = args.rounds or DEFAULT_ROUNDS.get(suite, 20)
    return argparse.Namespace(**{**vars(args), "rounds": rounds})


if __name__ == "__main__":
    raise SystemExit(main())

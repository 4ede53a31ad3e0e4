"""Run benchmarks by name and print a report (``python -m bench all``)."""

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from bench import supervision

SUITES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "restart": supervision.restart_latency,
    "idle": supervision.idle_master,
    "coldstart": supervision.cold_start,
}


def main() -> int:
    """Parse arguments, run the chosen suites, print text or JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suites", nargs="*", default=["all"], help=f"all or {', '.join(SUITES)}")
    parser.add_argument("--rounds", type=int, default=20, help="repetitions where it applies")
    parser.add_argument("--workers", type=int, default=20, help="workers for the idle suite")
    parser.add_argument("--seconds", type=float, default=30.0, help="idle measuring window")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    names = list(SUITES) if "all" in args.suites else args.suites
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(unknown)}")
    results = {name: SUITES[name](args) for name in names}
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        for name, result in results.items():
            print(f"== {name}")
            for key, value in result.items():
                print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

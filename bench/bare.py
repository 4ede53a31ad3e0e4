"""The bare loop: the same programs spawned straight with subprocess, as the floor to compare to."""

import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

TRUE = [shutil.which("true") or "/bin/true"]
# A program that prints when it started (ns since the epoch) and exits: what a job's start costs.
START_TIME = [shutil.which("date") or "/bin/date", "+%s%N"]


def throughput(n: int, parallel: int, argv: list[str] = TRUE) -> float:
    """Jobs per second running ``argv`` ``n`` times, ``parallel`` at a time."""

    def run(_: int) -> None:
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)

    started = time.monotonic()
    with ThreadPoolExecutor(parallel) as pool:
        for _ in pool.map(run, range(n)):
            pass
    return n / (time.monotonic() - started)


def start_latencies(n: int, argv: list[str] = START_TIME) -> list[float]:
    """Seconds from just before each spawn to the program's own start time, one at a time."""
    samples = []
    for _ in range(n):
        before = time.time_ns()
        out = subprocess.run(argv, capture_output=True, check=True).stdout
        samples.append((int(out) - before) / 1e9)
    return samples

"""Process-tree metrics: children count, CPU is measured between samples."""

from __future__ import annotations

import subprocess
import sys
import time

from corral.worker.metrics import ProcessTreeSampler
from waiting import wait_for


def test_memory_includes_children() -> None:
    sampler = ProcessTreeSampler()
    alone = sampler.sample().memory_bytes
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        wait_for(lambda: sampler.sample().memory_bytes > alone + 1_000_000, what="child memory")
    finally:
        child.kill()
        child.wait()


def test_cpu_percent_is_measured_between_samples() -> None:
    sampler = ProcessTreeSampler()
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        pass  # burn CPU in this process
    assert sampler.sample().cpu_percent > 10

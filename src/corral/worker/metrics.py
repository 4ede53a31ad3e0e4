"""CPU and memory use of the worker's process tree, sampled without blocking."""

from __future__ import annotations

import os
from typing import NamedTuple

import psutil


class Sample(NamedTuple):
    """One reading: CPU percent since the previous one (100 per busy CPU), resident bytes."""

    cpu_percent: float
    memory_bytes: int


class ProcessTreeSampler:
    """Samples a process and all its descendants.

    psutil measures CPU between two calls on the same Process object, so the
    objects are kept from one sample to the next; a descendant seen for the
    first time counts 0 % until its next sample.
    """

    def __init__(self, pid: int | None = None) -> None:
        self._root = psutil.Process(pid if pid is not None else os.getpid())
        self._known: dict[int, psutil.Process] = {}
        self.sample()  # sets the baseline the next sample measures from

    def sample(self) -> Sample:
        """Measure the tree now."""
        cpu = 0.0
        memory = 0
        current: dict[int, psutil.Process] = {}
        for process in self._tree():
            # Reuse the known object unless the pid now belongs to another process.
            known = self._known.get(process.pid)
            process = known if known is not None and known == process else process
            try:
                cpu += process.cpu_percent(interval=None)
                memory += process.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            current[process.pid] = process
        self._known = current
        return Sample(cpu_percent=round(cpu, 2), memory_bytes=memory)

    def _tree(self) -> list[psutil.Process]:
        """The root and its live descendants."""
        try:
            return [self._root, *self._root.children(recursive=True)]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return [self._root]

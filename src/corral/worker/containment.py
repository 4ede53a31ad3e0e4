"""Which containment a worker's jobs get: cgroup v2, cgroup v1, or process groups.

Decided once, at the worker's start. cgroup v2 when the unified hierarchy is
mounted at /sys/fs/cgroup (``cgroup.controllers`` there) and the worker may
create cgroups in its own; cgroup v1 when the freezer, memory or cpuacct
hierarchy holds a cgroup of the worker it may create groups in (root, or a
delegated subtree). Otherwise (not root, read-only, no controllers, or turned
off) each job is contained by its process group only.
"""

from __future__ import annotations

import logging
import os
import re
import zlib
from pathlib import Path

from corral.worker.cgroup_v1 import CONTROLLERS, CgroupV1, Hierarchy
from corral.worker.cgroup_v2 import CgroupV2
from corral.worker.cgroups import Containment

log = logging.getLogger(__name__)

PROCESS_GROUPS = "process groups"
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF = Path("/proc/self")
UNIFIED = ""  # the hierarchy key of cgroup v2 in /proc/self/cgroup and in mounts


def cgroup_prefix(worker_id: str, state: Path | None) -> str:
    """The name prefix of a worker's job cgroups: its id and a digest of its state folder."""
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", worker_id)[:64]
    digest = zlib.crc32(str(state or "").encode()) & 0xFFFFFFFF
    return f"corral-{safe_id}-{digest:08x}"


def detect(prefix: str, *, root: Path = CGROUP_ROOT, proc: Path = PROC_SELF) -> Containment | None:
    """The cgroups this worker can give its jobs; None when it has process groups only."""
    try:
        own = own_cgroups((proc / "cgroup").read_text())
        mounts = cgroup_mounts((proc / "mountinfo").read_text(), root)
        if (root / "cgroup.controllers").exists():
            home = _home(mounts.get(UNIFIED), own.get(UNIFIED))
            if home is None or not _writable(home, "cgroup.procs"):
                return None
            return CgroupV2.open(prefix, home)
        found = [
            Hierarchy(controller, home)
            for controller in CONTROLLERS
            if (home := _home(mounts.get(controller), own.get(controller))) is not None
            and _writable(home, "tasks")
        ]
        return CgroupV1(prefix, found) if found else None
    except OSError as exc:
        log.info("no cgroups for jobs: %s", exc)
        return None


def own_cgroups(text: str) -> dict[str, str]:
    """Controller ('' for v2) -> the process's cgroup path, from /proc/self/cgroup."""
    own = {}
    for line in text.splitlines():
        fields = line.split(":", 2)
        if len(fields) == 3:
            for controller in fields[1].split(","):
                own[controller] = fields[2]
    return own


def cgroup_mounts(text: str, unified: Path = CGROUP_ROOT) -> dict[str, tuple[Path, str]]:
    """Controller ('' for v2) -> (mount point, root inside the hierarchy), from mountinfo.

    Of several mounts of the unified hierarchy, the one at ``unified`` is taken.
    """
    mounts: dict[str, tuple[Path, str]] = {}
    for line in text.splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        where = (Path(_unescape(fields[4])), _unescape(fields[3]))
        if tail[0] == "cgroup2":
            if UNIFIED not in mounts or where[0] == unified:
                mounts[UNIFIED] = where
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                if option in CONTROLLERS:
                    mounts.setdefault(option, where)
    return mounts


def _home(mount: tuple[Path, str] | None, own: str | None) -> Path | None:
    """The folder of the process's own cgroup in a mounted hierarchy, if it is visible."""
    if mount is None or own is None:
        return None
    point, root = mount
    if root != "/" and own != root and not own.startswith(root + "/"):
        return None  # mounted from a subtree that does not hold this process
    inside = own[len(root) :] if root != "/" else own
    return point / inside.lstrip("/")


def _writable(home: Path, members: str) -> bool:
    """Whether the worker may create cgroups in ``home`` and move into and out of it."""
    return os.access(home, os.W_OK) and os.access(home / members, os.W_OK)


def _unescape(field: str) -> str:
    """A mountinfo path with its octal escapes (\\040 for a space) decoded."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)

"""Job cgroups that killed workers left behind, swept at the end of the test session.

A worker killed with SIGKILL cannot remove its jobs' cgroups; its next start would.
Tests that kill workers rarely start them again, so the session removes what the
workers of its temporary folders left (a cgroup's name carries a digest of its
worker's state folder, and every state folder lies under the session's basetemp).
"""

import zlib
from pathlib import Path

from corral.worker.cgroup_v1 import CgroupV1
from corral.worker.cgroup_v2 import CgroupV2
from corral.worker.containment import detect


def sweep_job_cgroups(basetemp: Path) -> int:
    """Kill and remove the job cgroups of workers whose state folder is under ``basetemp``."""
    found = detect("corral-probe")
    if isinstance(found, CgroupV1):
        homes = list(found.homes.values())
    elif isinstance(found, CgroupV2):
        homes = [found.home]
    else:
        return 0
    folders = [basetemp, *(p for p in basetemp.rglob("*") if p.is_dir())]
    digests = {f"{zlib.crc32(str(p).encode()) & 0xFFFFFFFF:08x}" for p in folders}
    prefixes = {
        entry.name.split(".", 1)[0]
        for home in homes
        for entry in home.iterdir()
        if entry.name.startswith("corral-") and entry.name.split(".", 1)[0][-8:] in digests
    }
    swept = 0
    for prefix in sorted(prefixes):
        containment = detect(prefix)
        if containment is not None:
            swept += len(containment.existing())
            containment.sweep()
            containment.close()
    return swept

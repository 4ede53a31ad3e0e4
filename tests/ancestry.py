"""A job that looks at its ancestors as a hostile one would: their environment, argv, memory."""

import json
from typing import Any

# The system's interpreter: any user may run it, unlike a virtual environment's in /root.
SYSTEM_PYTHON = "/usr/bin/python3"
# One JSON line per ancestor, its parent first: what /proc let the job read of each.
WALK = """
import json, os
pid = os.getppid()
while pid > 1:
    seen = {"pid": pid}
    for name in ("environ", "cmdline", "mem"):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as f:
                seen[name] = f.read().decode(errors="replace") if name != "mem" else "opened"
        except OSError as exc:
            seen[name] = "error: " + exc.strerror
    print(json.dumps(seen), flush=True)
    with open(f"/proc/{pid}/stat") as f:
        pid = int(f.read().rsplit(")", 1)[1].split()[1])
"""


def walk_ancestors() -> list[str]:
    """The argv of the job."""
    return [SYSTEM_PYTHON, "-c", WALK]


def ancestors(lines: list[str], up_to: int) -> list[dict[str, Any]]:
    """What the job saw of each ancestor, its parent first, up to the process ``up_to``."""
    seen: list[dict[str, Any]] = []
    for line in lines:
        if line.startswith("{"):
            seen.append(json.loads(line))
            if seen[-1]["pid"] == up_to:
                return seen
    raise AssertionError(f"pid {up_to} is not among the job's ancestors: {lines}")

"""What dead local workers left behind: the outcomes they recorded and the output they spooled.

A local worker records each attempt's end, and spools each attempt's output, in its
state folder before it reports them. When it dies with reports unsent, the master
settles its attempts from there rather than calling them lost.
"""

import contextlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from corral.domain.jobs import Job
from corral.errors import UnavailableError
from corral.master.jobs.output import STREAMS, JobOutput
from corral.outcome_ledger import OUTCOMES_NAME, Key, take_outcomes
from corral.output_spool import SPOOL_NAME, clear_spool, read_spool

log = logging.getLogger("corral.master")
Outcomes = dict[Key, dict[str, Any]]


def take_recorded(folders: Iterable[Path]) -> Outcomes:
    """Every outcome the workers of these state folders recorded and may not have reported."""
    recorded: Outcomes = {}
    for folder in folders:
        recorded.update(take_outcomes(folder / OUTCOMES_NAME))
    return recorded


def recorded_end(recorded: Outcomes, job: Job) -> dict[str, Any] | None:
    """The recorded end of the job's current attempt, if its worker wrote one."""
    return recorded.get((job.id, job.attempt, job.instance_id or ""))


def salvage_output(output: JobOutput, job: Job, folder: Path) -> None:
    """Store the part of the attempt's output its worker read but never got to send."""
    for stream in STREAMS:
        offset = output.stored(job.id, job.attempt, stream)
        rest = read_spool(folder / SPOOL_NAME, job.id, job.attempt, stream, offset)
        if rest:
            log.info("job %d: %d bytes of %s from its worker's spool", job.id, len(rest), stream)
            with contextlib.suppress(UnavailableError):
                output.append(job.id, job.attempt, stream, rest.decode(errors="replace"), offset)


def clear_spools(folders: Iterable[Path]) -> None:
    """Forget what the workers spooled, once their attempts are settled."""
    for folder in folders:
        clear_spool(folder / SPOOL_NAME)

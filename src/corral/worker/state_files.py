"""What a worker keeps on disk so that a crash loses nothing it has done.

The ledger of live job groups (what to kill when a crashed instance is replaced),
the outcomes not yet acknowledged by the master, and the spool of output not yet
stored by it, all in the worker's private state folder.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from corral.outcome_ledger import OUTCOMES_NAME, OutcomeLedger
from corral.output_spool import SPOOL_NAME, Spool
from corral.worker.orphans import LEDGER_NAME, JobLedger, kill_orphans, state_dir

log = logging.getLogger(__name__)


@dataclass
class StateFiles:
    """The worker's files in its state folder."""

    jobs: JobLedger
    outcomes: OutcomeLedger
    spool: Spool

    def acknowledged(self, job_id: int, attempt: int) -> None:
        """The master has stored the attempt's end, and so all of its output."""
        self.outcomes.acknowledged(job_id, attempt)
        self.spool.done(job_id, attempt)

    def close(self) -> None:
        """Close the ledgers; what they still hold is for the next instance or the master."""
        self.jobs.close()
        self.outcomes.close()


def open_state_files(worker_id: str, environ: Mapping[str, str]) -> tuple[StateFiles | None, int]:
    """Kill the job groups a previous instance left, then open this instance's files.

    Returns the files (None if the state folder cannot be used) and how many groups
    were killed.
    """
    try:
        folder = state_dir(worker_id, environ)
        killed = kill_orphans(folder / LEDGER_NAME)
        files = StateFiles(
            JobLedger(folder / LEDGER_NAME),
            OutcomeLedger(folder / OUTCOMES_NAME),
            Spool(folder / SPOOL_NAME),
        )
    except OSError as exc:
        log.warning("no state files (a crash may leave job processes, or rerun jobs): %s", exc)
        return None, 0
    return files, killed

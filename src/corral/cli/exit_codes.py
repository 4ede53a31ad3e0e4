"""Exit codes: ``corral submit --wait`` exits with the job's own, in the shell's conventions."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from corral.client import Job

TIMED_OUT = 124  # as timeout(1)
NOT_STARTED = 127  # the program could not be started, as a shell's "command not found"
CANCELLED = 130  # as a program interrupted by Ctrl-C
FAILED = 1  # failed without an exit code of its own (e.g. its worker kept crashing)
NOT_RUNNING = 3  # `corral status` and `corral down`: no master answers (as `systemctl status`)

HELP = (
    "exit codes with --wait: the job's exit code; 128+N when a signal N killed it; "
    f"{TIMED_OUT} when it timed out; {NOT_STARTED} when it could not be started; "
    f"{CANCELLED} when it was cancelled (Ctrl-C cancels the job); "
    f"{FAILED} when it failed otherwise."
)


def exit_code_of(job: "Job") -> int:
    """What the CLI exits with for a finished job."""
    if job.state == "succeeded":
        return 0
    if job.state == "timed_out":
        return TIMED_OUT
    if job.state == "cancelled":
        return CANCELLED
    if job.exit_code is not None and job.exit_code != 0:
        return job.exit_code
    if job.signal is not None:
        return 128 + job.signal
    if job.reason == "spawn_failed":
        return NOT_STARTED
    return FAILED

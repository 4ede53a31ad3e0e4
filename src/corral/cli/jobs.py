"""``corral jobs``: list jobs, show one, cancel or retry them, read or follow their output."""

import shlex
from typing import TYPE_CHECKING, Any

import click

from corral.cli.context import open_client
from corral.cli.output import age, print_fields, print_json, print_rows, reason_text
from corral.cli.watch import watch as redraw

if TYPE_CHECKING:
    from corral.client import Client, Job

STATES = ["pending", "assigned", "running", "succeeded", "failed", "timed_out", "cancelled"]
HEADERS = ["ID", "STATE", "ATTEMPT", "WORKER", "CPUS", "AGE", "COMMAND"]
JSON_HELP = "Print JSON."


def job_row(job: "Job") -> list[str]:
    """A job as a row of the jobs table."""
    command = job.command[0] if job.shell and len(job.command) == 1 else shlex.join(job.command)
    return [
        str(job.id),
        job.state,
        f"{job.attempt}/{job.max_attempts}"
        + (f" ({job.requeues} requeued)" if job.requeues else ""),
        job.worker_id or "-",
        str(job.cpus),
        age(job.submitted_at),
        command,
    ]


ATTEMPT_HEADERS = ["ATTEMPT", "WORKER", "STATE", "REASON", "EXIT", "MAX RSS", "CPU S", "FINISHED"]


def attempt_row(attempt: dict[str, Any]) -> list[str]:
    """One ended attempt as a row."""
    reason = reason_text(attempt["reason"], attempt["reason_detail"])
    if attempt["requeued"]:
        reason += " (requeued)"
    exit_code, sig = attempt["exit_code"], attempt["signal"]
    rss, cpu = attempt["max_rss_bytes"], attempt["cpu_seconds"]
    return [
        str(attempt["attempt"]),
        attempt["worker_id"] or "-",
        attempt["state"],
        reason,
        str(exit_code) if exit_code is not None else (f"signal {sig}" if sig else "-"),
        f"{rss / 2**20:.1f} MiB" if rss is not None else "-",
        f"{cpu:.2f}" if cpu is not None else "-",
        attempt["finished_at"],
    ]


@click.group(invoke_without_command=True)
@click.option(
    "--state", type=click.Choice(STATES), multiple=True, help="Only jobs in this state; repeat."
)
@click.option("--worker", help="Only jobs of this worker.")
@click.option("--account", help="Only jobs of this account.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most N jobs."
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option("--watch", "-w", is_flag=True, help="Redraw the table in place until Ctrl-C.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.2),
    default=2.0,
    show_default=True,
    help="Seconds between redraws with --watch.",
)
@click.pass_context
def jobs(
    ctx: click.Context,
    state: tuple[str, ...],
    worker: str | None,
    account: str | None,
    limit: int,
    as_json: bool,
    watch: bool,
    interval: float,
) -> None:
    """List jobs, newest first (a table on a terminal, tab-separated when piped)."""
    if ctx.invoked_subcommand is not None:
        return
    client = open_client(ctx)

    def found() -> list["Job"]:
        return list(client.jobs(state or None, worker_id=worker, account=account, limit=limit))

    if watch:
        if as_json:
            raise click.UsageError("--watch draws a table: it cannot go with --json")
        redraw("corral jobs", HEADERS, lambda: [job_row(j) for j in found()], interval)
        return
    if as_json:
        print_json([j.to_json() for j in found()])
    else:
        print_rows(HEADERS, [job_row(j) for j in found()])


@jobs.command()
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def show(ctx: click.Context, job_id: int, as_json: bool) -> None:
    """Everything the master knows about one job, and how each ended attempt went."""
    client = open_client(ctx)
    job = client.get(job_id)
    attempts = client.attempts(job_id)
    if as_json:
        print_json({**job.to_json(), "attempts": attempts})
        return
    fields = job.to_json()
    if job.waiting_for is None:
        del fields["waiting_for"]
    if job.state in ("assigned", "running"):
        # How earlier attempts ended is in the attempts table: not this attempt's story.
        for name in ("reason", "reason_detail", "exit_code", "signal"):
            del fields[name]
    print_fields(fields)
    if attempts:
        click.echo()
        print_rows(ATTEMPT_HEADERS, [attempt_row(a) for a in attempts])


def _act_on_each(ctx: click.Context, ids: tuple[int, ...], act: str, as_json: bool) -> None:
    """Cancel or retry each job; report every one, exit 1 if any was refused."""
    from corral.client import ApiError

    client: Client = open_client(ctx)
    failed = False
    for job_id in ids:
        try:
            job = client.cancel(job_id) if act == "cancel" else client.retry(job_id)
        except ApiError as exc:
            click.echo(f"Error: job {job_id}: {exc}", err=True)
            failed = True
            continue
        if as_json:
            print_json(job.to_json())
        else:
            pending = "\tcancel requested" if job.cancel_requested and not job.finished else ""
            click.echo(f"{job.id}\t{job.state}{pending}")
    if failed:
        ctx.exit(1)


@jobs.command()
@click.argument("job_ids", type=int, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def cancel(ctx: click.Context, job_ids: tuple[int, ...], as_json: bool) -> None:
    """Cancel jobs: pending ones never start, running ones are stopped (SIGTERM, then KILL)."""
    _act_on_each(ctx, job_ids, "cancel", as_json)


@jobs.command()
@click.argument("job_ids", type=int, nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def retry(ctx: click.Context, job_ids: tuple[int, ...], as_json: bool) -> None:
    """Run finished jobs again, their attempts reset."""
    _act_on_each(ctx, job_ids, "retry", as_json)


@jobs.command()
@click.argument("job_id", type=int)
@click.option("--stream", type=click.Choice(["stdout", "stderr"]), default="stdout")
@click.option("--tail", type=click.IntRange(min=0), help="Only the last N lines [default: all]")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job is finished.")
@click.pass_context
def logs(ctx: click.Context, job_id: int, stream: str, tail: int | None, follow: bool) -> None:
    """Print what a job wrote to its stdout (or stderr)."""
    from corral.client.api import ALL_LINES

    client = open_client(ctx)
    tail = ALL_LINES if tail is None else tail
    if not follow:
        for line in client.logs(job_id, stream, tail):
            click.echo(line)
        return
    # Followed until the job ends or Ctrl-C: a master that restarts is waited for, saying so.
    client.reconnect_s = float("inf")
    try:
        for line in client.follow(job_id, stream, tail):
            click.echo(line)
    except KeyboardInterrupt:
        ctx.exit(130)

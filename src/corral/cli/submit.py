"""``corral submit``: run a command as a job, optionally waiting for it with its output live."""

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from corral.cli.context import open_client
from corral.cli.exit_codes import CANCELLED, HELP, exit_code_of
from corral.cli.job_spec import submit_arguments
from corral.cli.output import print_json
from corral.cli.submit_file import submit_lines

if TYPE_CHECKING:
    from corral.client import Client, Job


def parse_pairs(values: tuple[str, ...], from_env: bool = False) -> dict[str, str]:
    """K=V items as a dict; a bare K takes its value from this environment if ``from_env``."""
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep and from_env and key:
            if key not in os.environ:
                raise click.BadParameter(f"{key} is not set")
            value = os.environ[key]
        elif not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE")
        pairs[key] = value
    return pairs


def pairs(from_env: bool) -> Callable[[click.Context, click.Parameter, tuple[str, ...]], Any]:
    """A click callback parsing repeated K=V options."""
    return lambda _ctx, _param, values: parse_pairs(values, from_env)


@click.command(
    context_settings={"allow_interspersed_args": False},
    epilog=HELP,
)
@click.option("--cpus", type=click.IntRange(min=1), help="CPUs the job needs [default: 1]")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds to run.")
@click.option("--max-attempts", type=click.IntRange(min=1), help="Tries when it fails.")
@click.option(
    "--max-requeues",
    type=click.IntRange(min=0),
    help="Times it may go back when its worker is lost [default: 10].",
)
@click.option("--retry-delay", type=click.FloatRange(min=0), help="Seconds between tries.")
@click.option("--memory", "memory_mb", type=click.IntRange(min=1), help="MB it may use.")
@click.option("--priority", type=int, help="Higher runs first [default: 0]")
@click.option("--account", help="Account the job holds while it runs.")
@click.option("--env", multiple=True, callback=pairs(True), help="K=V (or K from here); repeat.")
@click.option(
    "--secret-env",
    multiple=True,
    callback=pairs(True),
    help="K (its value from here) or K=V: given to the job, never shown; repeat.",
)
@click.option("--cwd", help="Folder the job runs in, on its worker [default: the current folder]")
@click.option(
    "--run-as", metavar="USER[:GROUP]", help="Run it as this user (a worker must allow it)."
)
@click.option("--label", multiple=True, callback=pairs(False), help="K=V; repeat.")
@click.option("--idempotency-key", help="Submitting the same key again returns the same job.")
@click.option("--shell", is_flag=True, help="Run CMD (its words joined by spaces) with /bin/sh.")
@click.option("--wait", is_flag=True, help="Stream the job's output and exit with its code.")
@click.option(
    "--file",
    "commands_file",
    type=click.File(),
    help="Submit each line of FILE as a job (blank and # lines skipped; - for stdin).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
@click.argument("command", nargs=-1, metavar="[--] CMD [ARGS]...")
@click.pass_context
def submit(ctx: click.Context, /, command: tuple[str, ...], **opts: Any) -> None:
    """Submit CMD as a job and print its id.

    With --wait, print its id on stderr, stream its stdout and stderr here and exit with
    its exit code (with --wait --json, print the finished job as JSON instead of its output).
    With --file, submit one job per line of FILE, with the same options, and print their ids.
    """
    commands_file = opts.pop("commands_file")
    if commands_file is not None:
        if command or opts["wait"]:
            raise click.UsageError("--file takes no CMD and no --wait")
        submit_lines(ctx, commands_file, opts)
        return
    if not command:
        raise click.UsageError("Missing CMD (or --file FILE).")
    client = open_client(ctx)
    job = client.submit(**submit_arguments(command, opts))
    if not opts["wait"]:
        if opts["as_json"]:
            print_json(job.to_json())
        else:
            click.echo(job.id)
        return
    click.echo(f"corral: job {job.id} submitted; waiting (Ctrl-C cancels it)", err=True)
    try:
        job = client.wait(job.id) if opts["as_json"] else stream_until_finished(client, job.id)
    except KeyboardInterrupt:
        _cancel(client, job.id)
        ctx.exit(CANCELLED)
    if opts["as_json"]:
        print_json(job.to_json())
    elif job.state != "succeeded":
        click.echo(f"corral: job {job.id} {job.state}{_why(job)}", err=True)
    ctx.exit(exit_code_of(job))


def stream_until_finished(client: "Client", job_id: int) -> "Job":
    """Copy the job's stdout and stderr here as they come; the finished job."""
    errors: list[BaseException] = []
    stderr = threading.Thread(target=_copy_stderr, args=(client, job_id, errors), daemon=True)
    stderr.start()
    for line in client.follow(job_id, "stdout"):
        click.echo(line)
    stderr.join()
    if errors:
        raise errors[0]
    return client.wait(job_id)


def _copy_stderr(parent: "Client", job_id: int, errors: list[BaseException]) -> None:
    """Follow stderr on a connection of its own (one stream per connection)."""
    try:
        with parent.sibling() as client:
            for line in client.follow(job_id, "stderr"):
                click.echo(line, err=True)
    except Exception as exc:
        errors.append(exc)


def _cancel(client: "Client", job_id: int) -> None:
    """Cancel the job we were waiting on, saying so; a finished job stays as it is."""
    from corral.client import ApiError

    click.echo(f"\ncorral: cancelling job {job_id}", err=True)
    try:
        client.cancel(job_id)
    except ApiError as exc:
        if exc.status != 409:
            raise


def _why(job: "Job") -> str:
    """The detail of how a job ended, for the one-line report."""
    parts = [f"exit code {job.exit_code}" if job.exit_code is not None else None]
    parts.append(f"signal {job.signal}" if job.signal is not None else None)
    # "exit_code" only repeats what the exit code says.
    if job.reason is not None and job.reason != "exit_code":
        parts.append(f"{job.reason}: {job.reason_detail}" if job.reason_detail else job.reason)
    shown = [p for p in parts if p]
    return f" ({', '.join(shown)})" if shown else ""

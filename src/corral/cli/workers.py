"""``corral workers``: the fleet at a glance; start, stop, restart a worker, read its output.

Adding, changing, deleting and showing a config are in worker_configs.py.
"""

from datetime import datetime
from typing import Any

import click

from corral.cli.context import open_client
from corral.cli.output import (
    age,
    cell,
    counted,
    is_terminal,
    print_fields,
    print_json,
    print_rows,
    size,
)
from corral.cli.submit import pairs
from corral.cli.worker_configs import add, edit, rm, show
from corral.domain.placement import label_text

HEADERS = ["ID", "STATE", "PID", "CPUS", "JOBS", "CPU%", "MEM", "RESTARTS", "UP", "LAST ERROR"]


def worker_row(status: dict[str, Any]) -> list[str]:
    """A worker's status as a row of the workers table."""
    running = status["state"] == "running"
    started = status.get("started_at")
    # The last sample of a worker that is gone is not its load; a running one's old
    # crash is history (its events keep it), not a current error.
    cpu = status.get("cpu_percent") if running else None
    memory = status.get("memory_bytes") if running else None
    error = None if running else status.get("last_error")
    return [
        status["worker_id"],
        status["state"],
        cell(status.get("pid")),
        f"{status.get('cpus_allocated', 0)}/{len(status.get('cpu_ids') or [])}",
        str(status.get("active_jobs", 0)),
        f"{cpu:.0f}" if cpu is not None else "-",
        size(memory),
        str(status.get("restart_count", 0)),
        age(datetime.fromisoformat(started)) if running and started else "-",
        cell(error),
    ]


def summary(overview: dict[str, Any]) -> str:
    """One line of fleet totals for the foot of the table."""
    states = ", ".join(f"{n} {s}" for s, n in overview["by_state"].items() if n)
    return (
        f"{counted(overview['total'], 'worker')} ({states or 'none'}); "
        f"{overview['cpus_allocated']}/{counted(overview['cpus'], 'CPU')} allocated, "
        f"{counted(overview['active_jobs'], 'job')} running"
    )


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def workers(ctx: click.Context, as_json: bool) -> None:
    """List workers with their state and load (tab-separated when piped)."""
    if ctx.invoked_subcommand is not None:
        return
    client = open_client(ctx)
    statuses = [client.worker_status(c["worker_id"]) for c in client.workers()]
    overview = client.overview()
    if as_json:
        print_json({"workers": statuses, "overview": overview})
        return
    print_rows(HEADERS, [worker_row(s) for s in statuses])
    if statuses and is_terminal():
        click.echo(summary(overview))


def _each(ctx: click.Context, ids: tuple[str, ...], action: str, options: dict[str, Any]) -> None:
    """Apply one action to each chosen worker in turn and print the state it reached."""
    every, labels = ctx.params["all_"], ctx.params["label"]
    if bool(ids) + every + bool(labels) != 1:
        raise click.UsageError("name workers by ID..., --all or --label K=V")
    client = open_client(ctx)
    for worker_id in chosen(client.workers(), ids, labels):
        status = client.worker_action(worker_id, action, options)
        click.echo(f"{worker_id}\t{status['state']}")


def chosen(
    configs: list[dict[str, Any]], ids: tuple[str, ...], labels: dict[str, str]
) -> list[str]:
    """The workers named, else those with the labels (all for none); every id checked first."""
    known = [c["worker_id"] for c in configs]
    if ids:
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise click.ClickException(f"no worker {', '.join(unknown)}: nothing was done")
        return list(dict.fromkeys(ids))
    found = [c["worker_id"] for c in configs if labels.items() <= c["labels"].items()]
    if not found:
        missing = f"has the labels {label_text(labels)}" if labels else "is configured"
        raise click.ClickException(f"no worker {missing}")
    return found


def _ids(fn: click.decorators.FC) -> click.decorators.FC:
    """The ways to name workers: ids, --all, --label."""
    labels = click.option("--label", multiple=True, callback=pairs(False), help="K=V; repeat.")
    fn = labels(fn)
    fn = click.option("--all", "all_", is_flag=True, help="Every worker.")(fn)
    return click.argument("worker_ids", nargs=-1, metavar="ID...")(fn)


_timeout = click.option("--timeout", type=click.FloatRange(0, 3600), help="Seconds before KILL.")
_force = click.option("--force", is_flag=True, help="SIGKILL at once, no graceful stop.")


@workers.command()
@_ids
@click.pass_context
def start(ctx: click.Context, /, worker_ids: tuple[str, ...], **_: Any) -> None:
    """Start workers (also resets their restart budget)."""
    _each(ctx, worker_ids, "start", {})


@workers.command()
@_ids
@_timeout
@_force
@click.pass_context
def stop(
    ctx: click.Context, /, worker_ids: tuple[str, ...], timeout: float | None, force: bool, **_: Any
) -> None:
    """Stop workers: SIGTERM, then SIGKILL after the timeout."""
    _each(ctx, worker_ids, "stop", _stop_options(timeout, force))


@workers.command()
@_ids
@_timeout
@_force
@click.pass_context
def restart(
    ctx: click.Context, /, worker_ids: tuple[str, ...], timeout: float | None, force: bool, **_: Any
) -> None:
    """Stop workers as with stop, then start them again."""
    _each(ctx, worker_ids, "restart", _stop_options(timeout, force))


def _stop_options(timeout: float | None, force: bool) -> dict[str, Any]:
    """The body of stop and restart."""
    options: dict[str, Any] = {"graceful": not force}
    if timeout is not None:
        options["timeout_s"] = timeout
    return options


@workers.command()
@click.argument("worker_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, worker_id: str, as_json: bool) -> None:
    """State, process, heartbeat and metrics of one worker."""
    body = open_client(ctx).worker_status(worker_id)
    if as_json:
        print_json(body)
    else:
        print_fields(body)


@workers.command()
@click.argument("worker_id")
@click.option(
    "--stream",
    type=click.Choice(["all", "stdout", "stderr", "events"]),
    default="all",
    show_default=True,
    help="all: stdout and stderr together, in time order.",
)
@click.option("--tail", type=click.IntRange(0, 10000), default=50, show_default=True)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.pass_context
def logs(ctx: click.Context, worker_id: str, stream: str, tail: int, follow: bool) -> None:
    """A worker's output, or its lifecycle events (what happened, and why)."""
    client = open_client(ctx)
    if not follow:
        for line in client.worker_logs(worker_id, stream, tail):
            click.echo(line)
        return
    # Followed until Ctrl-C: a master that restarts is waited for, saying so.
    client.reconnect_s = float("inf")
    try:
        for line in client.follow_worker(worker_id, stream, tail):
            click.echo(line)
    except KeyboardInterrupt:
        ctx.exit(130)


for command in (add, edit, rm, show):
    workers.add_command(command)

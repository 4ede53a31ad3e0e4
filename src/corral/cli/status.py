"""``corral status``: is a master running here, since when, and the fleet on one screen."""

from datetime import datetime
from typing import Any

import click

from corral.cli.context import answered, open_client
from corral.cli.output import age, counted, print_fields, print_json


def fleet_fields(info: dict[str, Any], overview: dict[str, Any]) -> dict[str, str]:
    """The status screen: where, since when, the workers and the jobs."""
    workers = ", ".join(f"{n} {s}" for s, n in overview["by_state"].items() if n) or "none"
    jobs = ", ".join(f"{n} {s}" for s, n in info["jobs_by_state"].items() if n) or "none"
    ended = ", ".join(f"{n} {s}" for s, n in sorted(info["finished_since_start"].items()))
    oldest = info["oldest_pending_at"]
    return {
        "master": info["url"],
        "version": info["version"],
        "pid": str(info["pid"]),
        "up": f"{age(datetime.fromisoformat(info['started_at']))} "
        f"(since {info['started_at'][:19]}Z)",
        "data folder": info["data_dir"],
        "workers": f"{counted(overview['total'], 'worker')} ({workers})",
        "cpus": f"{overview['cpus_allocated']}/{counted(overview['cpus'], 'CPU')} allocated",
        "jobs": jobs,
        "finished since start": ended or "none",
        "oldest pending": age(datetime.fromisoformat(oldest)) if oldest else "-",
    }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Whether a master runs for this folder (or --url): where, since when, workers and jobs.

    Exits 0 when one answers, 3 when none does.
    """
    client = open_client(ctx)
    info = answered(ctx, client.master_info)
    overview = client.overview()
    if as_json:
        print_json({"master": info, "workers": overview})
    else:
        print_fields(fleet_fields(info, overview))

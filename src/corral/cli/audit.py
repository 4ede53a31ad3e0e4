"""``corral audit``: the state-changing requests the master answered, newest first."""

import click

from corral.cli.context import open_client
from corral.cli.output import print_json, print_rows

HEADERS = ["ID", "AT", "ACTOR", "PEER", "METHOD", "STATUS", "ROUTE"]


@click.command()
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most N entries."
)
@click.option("--actor", help="Only this actor: admin, session, worker:ID, anonymous.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def audit(ctx: click.Context, limit: int, actor: str | None, as_json: bool) -> None:
    """Who changed what, from where, and how the master answered."""
    entries = open_client(ctx).audit(limit=limit, actor=actor)
    if as_json:
        print_json(entries)
        return
    rows = [
        [
            str(e["id"]),
            e["at"],
            e["actor"],
            e["peer"] or "-",
            e["method"],
            str(e["status"]),
            e["route"] + (f" ({e['target']})" if e["target"] else ""),
        ]
        for e in entries
    ]
    print_rows(HEADERS, rows)

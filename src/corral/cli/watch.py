"""A table redrawn in place every few seconds until Ctrl-C (``--watch``)."""

import shutil
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import click

from corral.cli.output import is_terminal, table

# Cursor home, then clear to the end of the screen: the new table replaces the old.
REDRAW = "\x1b[H\x1b[J"

Rows = Callable[[], Sequence[Sequence[str]]]


def lines_of(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """An aligned table on a terminal; tab-separated lines when piped."""
    if is_terminal():
        return table(headers, rows, shutil.get_terminal_size().columns)
    return ["\t".join(c.replace("\t", " ") for c in row) for row in rows]


def watch(title: str, headers: Sequence[str], rows: Rows, interval: float) -> None:
    """Redraw the table every ``interval`` seconds; Ctrl-C ends it quietly."""
    from corral.client import ClientError

    try:
        while True:
            stamp = datetime.now().strftime("%H:%M:%S")
            try:
                body = lines_of(headers, rows())
            except ClientError as exc:
                body = [f"corral: {exc}; retrying"]
            if is_terminal():
                click.echo(REDRAW + f"{title}  (every {interval:g} s, Ctrl-C ends)  {stamp}")
                click.echo("\n".join(body))
            else:
                click.echo("\n".join([f"# {stamp}", *body]), nl=True)
            # The refresh period itself: nothing to wait on but the clock.
            time.sleep(interval)
    except KeyboardInterrupt:
        return

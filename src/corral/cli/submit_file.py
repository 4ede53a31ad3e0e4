"""``corral submit --file``: one job per line of a file, sent through the batch route."""

import shlex
import sys
from contextlib import nullcontext
from typing import IO, TYPE_CHECKING, Any

import click

from corral.cli.context import open_client
from corral.cli.job_spec import submit_arguments
from corral.cli.output import counted, print_json

if TYPE_CHECKING:
    from corral.client import Job


def read_commands(lines: IO[str], shell: bool) -> list[tuple[str, ...]]:
    """Each command of the file as words (a shell line as one); every line checked first."""
    commands: list[tuple[str, ...]] = []
    name = getattr(lines, "name", "the file")
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if shell:
            commands.append((text,))
            continue
        try:
            commands.append(tuple(shlex.split(text)))
        except ValueError as exc:
            raise click.UsageError(f"{name} line {number}: {exc}") from None
    if not commands:
        raise click.UsageError(f"{name} holds no command")
    return commands


def submit_lines(ctx: click.Context, lines: IO[str], opts: dict[str, Any]) -> None:
    """Submit every command of the file in batches; print the ids (or the jobs as JSON)."""
    from corral.client.api import BATCH_MAX

    if opts["idempotency_key"] is not None:
        raise click.UsageError("--idempotency-key names one job: it cannot go with --file")
    specs = [submit_arguments(c, opts) for c in read_commands(lines, opts["shell"])]
    client = open_client(ctx)
    done: list[Job] = []
    bar = (
        click.progressbar(length=len(specs), label="submitting", file=sys.stderr)
        if sys.stderr.isatty()
        else nullcontext()
    )
    try:
        with bar as progress:
            for start in range(0, len(specs), BATCH_MAX):
                done += client.submit_many(specs[start : start + BATCH_MAX])
                if progress is not None:
                    progress.update(len(specs[start : start + BATCH_MAX]))
    finally:
        _report(done, len(specs), opts["as_json"])


def _report(done: "list[Job]", wanted: int, as_json: bool) -> None:
    """The ids submitted, and on stderr how many of how many."""
    if as_json:
        print_json([job.to_json() for job in done])
    else:
        for job in done:
            click.echo(job.id)
    if len(done) < wanted:
        click.echo(f"corral: {len(done)} of {counted(wanted, 'job')} submitted", err=True)

"""How the commands print: aligned tables on a terminal, tab-separated or JSON when piped."""

import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import click

# A command column never shrinks below this on a narrow terminal.
MIN_LAST_COLUMN = 12


def is_terminal() -> bool:
    """Whether stdout is a terminal (humans) rather than a pipe or file (programs)."""
    return sys.stdout.isatty()


def print_json(value: Any) -> None:
    """Indented JSON on stdout."""
    click.echo(json.dumps(value, indent=2, default=str))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int | None) -> list[str]:
    """Lines of a table with aligned columns; the last one is cut to fit ``width``."""
    cells = [list(headers), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers) - 1)]
    # Never cut into the fixed columns, whatever the terminal's width.
    floor = sum(widths) + 2 * len(widths) + MIN_LAST_COLUMN
    lines = []
    for row in cells:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
        if width is not None and len(line) > max(width, floor):
            line = line[: max(width, floor) - 1] + "…"
        lines.append(line.rstrip())
    return lines


def print_rows(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table on a terminal; tab-separated lines without a header when piped."""
    if is_terminal():
        width = shutil.get_terminal_size().columns
        for line in table(headers, rows, width):
            click.echo(line)
    else:
        for row in rows:
            click.echo("\t".join(c.replace("\t", " ") for c in row))


def print_fields(values: Mapping[str, Any]) -> None:
    """One field per line: aligned ``key  value`` on a terminal, ``key<TAB>value`` when piped."""
    width = max((len(k) for k in values), default=0)
    for key, value in values.items():
        text = cell(value)
        click.echo(f"{key.ljust(width)}  {text}" if is_terminal() else f"{key}\t{text}")


def cell(value: Any) -> str:
    """A value as a table cell: '-' for nothing, compact JSON for lists and dicts."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def age(since: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the largest whole unit: 42s, 5m, 3h, 2d."""
    if since is None:
        return "-"
    seconds = max(0, int(((now or datetime.now(UTC)) - since).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def reason_text(reason: str | None, detail: str | None) -> str:
    """Why an attempt ended, said once: an exit code's detail says all its code would."""
    if reason is None:
        return "-"
    if reason == "exit_code" and detail:
        return detail
    return f"{reason}: {detail}" if detail else reason


def counted(n: int, noun: str) -> str:
    """``1 job``, ``2 jobs``: a count with its noun in the right number."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def size(n_bytes: int | None) -> str:
    """Bytes in binary units: 512B, 38.2M, 1.5G."""
    if n_bytes is None:
        return "-"
    if n_bytes < 1024:
        return f"{n_bytes}B"
    value = n_bytes / 1024
    for unit in ("K", "M"):
        if value < 1024:
            return f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}G"

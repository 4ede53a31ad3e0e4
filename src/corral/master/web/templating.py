"""The Jinja2 environment of the dashboard: autoescaped, with the filters the pages use."""

from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from corral import __version__

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"


def iso(when: datetime | None) -> str:
    """A time as ISO 8601 in UTC, what the page's script turns into "3 s ago"."""
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds")


def size(n: int | None) -> str:
    """Bytes in binary units, as a person reads them."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def percent(part: int, whole: int) -> int:
    """Part of a whole, in whole percent; 0 of nothing."""
    return round(100 * part / whole) if whole else 0


def environment() -> Environment:
    """Templates from the package, every value escaped unless marked safe."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(iso=iso, size=size)
    env.globals.update(version=__version__, percent=percent)
    return env

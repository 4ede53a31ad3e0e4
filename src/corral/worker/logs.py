"""Worker logging: one timestamped line per event on stderr, quiet when the pipe breaks."""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s[%(process)d]: %(message)s"
UNSTAMPED_FORMAT = "%(levelname)s %(name)s[%(process)d]: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


class OneLineFormatter(logging.Formatter):
    """Folds tracebacks and multi-line messages into one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", " | ")


def configure_logging(level: str | int = logging.INFO, stamped: bool = True) -> None:
    """Send the worker's log records to stderr, one line each (with its time if ``stamped``)."""
    # The master may close our stderr pipe when it dies; a failed write must not
    # turn into a traceback on the very stream that is gone.
    logging.raiseExceptions = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(LOG_FORMAT if stamped else UNSTAMPED_FORMAT, DATE_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def flush_std_streams() -> None:
    """Flush stdout and stderr, pointing a broken one at /dev/null.

    Otherwise the interpreter's own flush at exit reports the BrokenPipeError.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            _point_at_devnull(stream)


def _point_at_devnull(stream: TextIO) -> None:
    """Replace the stream's descriptor with /dev/null, if it has one."""
    try:
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError):
        pass

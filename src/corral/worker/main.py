"""``corral worker``: command-line arguments and environment, then the service."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from corral.protocol import (
    ENV_DRAIN_TIMEOUT,
    ENV_MASTER_URL,
    ENV_PARENT_PID,
    ENV_TOKEN,
    ENV_WORKER_ID,
)
from corral.worker.executor import DEFAULT_GRACE_S
from corral.worker.logs import configure_logging, flush_std_streams
from corral.worker.service import (
    DEFAULT_DRAIN_TIMEOUT_S,
    EXIT_USAGE,
    WorkerService,
    WorkerSettings,
)

# Turns the job cgroups off when set to off (or 0, no, false).
ENV_CGROUPS = "CORRAL_WORKER_CGROUPS"
_ON = frozenset({"on", "1", "yes", "true", "auto"})
_OFF = frozenset({"off", "0", "no", "false"})


def build_parser() -> argparse.ArgumentParser:
    """The worker's command line; the token is deliberately not an option."""
    parser = argparse.ArgumentParser(
        prog="corral worker",
        description=(
            "Run a corral worker agent: register with the master, heartbeat, and run jobs. "
            f"The bearer token is read from the environment variable {ENV_TOKEN} only."
        ),
    )
    parser.add_argument(
        "--master", metavar="URL", help=f"master base URL (default: ${ENV_MASTER_URL})"
    )
    parser.add_argument(
        "--worker-id", metavar="ID", help=f"this worker's id (default: ${ENV_WORKER_ID})"
    )
    parser.add_argument(
        "--heartbeat-interval",
        metavar="S",
        type=_positive_float,
        help="seconds between heartbeats (default: what the master answers)",
    )
    parser.add_argument(
        "--drain-timeout",
        metavar="S",
        type=_non_negative_float,
        help=(
            "on the first SIGTERM/SIGINT, seconds running jobs may take to finish "
            f"(default: ${ENV_DRAIN_TIMEOUT} or {DEFAULT_DRAIN_TIMEOUT_S:g})"
        ),
    )
    parser.add_argument(
        "--kill-grace",
        metavar="S",
        type=_non_negative_float,
        default=DEFAULT_GRACE_S,
        help=(
            "seconds between SIGTERM and SIGKILL when a job is timed out, cancelled "
            f"or drained (default: {DEFAULT_GRACE_S:g})"
        ),
    )
    parser.add_argument(
        "--no-cgroups",
        action="store_true",
        help=(
            "contain jobs by their process groups only, even where cgroups are available "
            f"(also: {ENV_CGROUPS}=off)"
        ),
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (default: INFO)",
    )
    return parser


def parse_settings(
    argv: list[str] | None, environ: Mapping[str, str]
) -> tuple[WorkerSettings, str]:
    """Settings and log level from arguments and environment; exits 2 on a usage error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    master_url = args.master or environ.get(ENV_MASTER_URL)
    worker_id = args.worker_id or environ.get(ENV_WORKER_ID)
    token = environ.get(ENV_TOKEN)
    if not master_url:
        parser.error(f"no master URL: pass --master or set {ENV_MASTER_URL}")
    if not worker_id:
        parser.error(f"no worker id: pass --worker-id or set {ENV_WORKER_ID}")
    if not token:
        parser.error(f"no token: set {ENV_TOKEN} in the environment")
    url = urlsplit(master_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        parser.error(f"master URL must look like http://host:port: {master_url!r}")
    settings = WorkerSettings(
        master_url,
        worker_id,
        token,
        heartbeat_interval_s=args.heartbeat_interval,
        parent_pid=_parent_pid(parser, environ.get(ENV_PARENT_PID)),
        drain_timeout_s=_drain_timeout(parser, args.drain_timeout, environ.get(ENV_DRAIN_TIMEOUT)),
        kill_grace_s=args.kill_grace,
        cgroups=not args.no_cgroups and _cgroups_on(parser, environ.get(ENV_CGROUPS)),
    )
    return settings, str(args.log_level)


def main(argv: list[str] | None = None) -> int:
    """Run a worker until it is told to stop; return the exit code."""
    try:
        try:
            settings, log_level = parse_settings(argv, os.environ)
        except SystemExit as exc:  # argparse: --help, or a usage error
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        configure_logging(logging.getLevelName(log_level))
        return WorkerService(settings).run()
    finally:
        flush_std_streams()


def _positive_float(text: str) -> float:
    """An argparse type: a number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above zero: {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    """An argparse type: a number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _drain_timeout(parser: argparse.ArgumentParser, given: float | None, text: str | None) -> float:
    """The drain window: the option, else the environment, else the default."""
    if given is not None:
        return given
    if not text:
        return DEFAULT_DRAIN_TIMEOUT_S
    try:
        return _non_negative_float(text)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"{ENV_DRAIN_TIMEOUT}: {exc}")


def _cgroups_on(parser: argparse.ArgumentParser, text: str | None) -> bool:
    """Whether the environment leaves cgroups on (the default)."""
    value = (text or "on").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    parser.error(f"{ENV_CGROUPS} must be on or off, not {text!r}")


def _parent_pid(parser: argparse.ArgumentParser, text: str | None) -> int | None:
    """The launching process's pid from the environment, if set."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        parser.error(f"{ENV_PARENT_PID} must be a process id, not {text!r}")

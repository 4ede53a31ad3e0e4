"""A stand-in for a worker process, driven by its first argument; used by the launcher tests."""

import signal
import subprocess
import sys
import time

LONG_LINE = 200_000


def _print(text: str, stream: str = "stdout") -> None:
    print(text, file=sys.stdout if stream == "stdout" else sys.stderr, flush=True)


def _sleep_forever() -> None:
    while True:
        time.sleep(3600)


def _spawn_ignoring_child() -> subprocess.Popen[bytes]:
    """A child in the same process group that ignores SIGTERM and shares our pipes."""
    return subprocess.Popen([sys.executable, __file__, "ignore-term"])


def _spawn_job() -> subprocess.Popen[bytes]:
    """A child leading a session of its own, as the worker runs each job."""
    return subprocess.Popen([sys.executable, __file__, "ignore-term"], start_new_session=True)


def main(mode: str) -> int:
    """Run one behaviour; the return value is the exit code."""
    if mode == "output":
        for i in range(1, 4):
            _print(f"out-{i}")
        _print("err-1", "stderr")
        _print("err-2", "stderr")
        _print("x" * LONG_LINE)
        sys.stdout.write("last-without-newline")
        sys.stdout.flush()
        return 3
    if mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    elif mode == "exit-7-on-term":
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(7))
    elif mode == "stray-child":
        child = _spawn_ignoring_child()
        _print(f"child {child.pid}")
    elif mode in ("job", "job-ignore-term"):
        if mode == "job-ignore-term":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = _spawn_job()
        _print(f"child {child.pid}")
    elif mode == "exit-leaving-child":
        child = _spawn_ignoring_child()
        _print(f"child {child.pid}")
        return 0
    elif mode != "default-term":
        raise SystemExit(f"unknown mode {mode!r}")
    _print("ready")
    _sleep_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

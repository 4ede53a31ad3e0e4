"""Loaded into test workers through PYTHONPATH: misbehaviours chosen by environment.

CORRAL_TEST_EXIT_AT_START=N   the process exits with code N before doing anything.
CORRAL_TEST_IGNORE_SIGTERM=1  SIGTERM is ignored, whatever handler the worker installs.
CORRAL_TEST_WORKERS_EXIT=N    in a master's environment: every worker it launches (its
                              environment names the worker) exits with code N at once.
"""

import os
import signal

_code = os.environ.get("CORRAL_TEST_EXIT_AT_START")
if _code is not None:
    os._exit(int(_code))

_workers_code = os.environ.get("CORRAL_TEST_WORKERS_EXIT")
if _workers_code is not None and "CORRAL_WORKER_ID" in os.environ:
    os._exit(int(_workers_code))

if os.environ.get("CORRAL_TEST_IGNORE_SIGTERM") == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _original = signal.signal

    def _ignore_sigterm(sig, handler):  # type: ignore[no-untyped-def]
        """Keep SIGTERM ignored; pass every other registration through."""
        if sig == signal.SIGTERM:
            return signal.SIG_IGN
        return _original(sig, handler)

    signal.signal = _ignore_sigterm

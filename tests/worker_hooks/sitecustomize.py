"""Loaded into test workers through PYTHONPATH: misbehaviours chosen by environment.

CORRAL_TEST_EXIT_AT_START=N   the process exits with code N before doing anything.
CORRAL_TEST_IGNORE_SIGTERM=1  SIGTERM is ignored, whatever handler the worker installs.
"""

import os
import signal

_code = os.environ.get("CORRAL_TEST_EXIT_AT_START")
if _code is not None:
    os._exit(int(_code))

if os.environ.get("CORRAL_TEST_IGNORE_SIGTERM") == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _original = signal.signal

    def _ignore_sigterm(sig, handler):  # type: ignore[no-untyped-def]
        """Keep SIGTERM ignored; pass every other registration through."""
        if sig == signal.SIGTERM:
            return signal.SIG_IGN
        return _original(sig, handler)

    signal.signal = _ignore_sigterm

"""What HTTPS costs: a master serving TLS beside one serving plain HTTP, interleaved.

Both have one local 2-CPU worker; the TLS master's worker pins its certificate, so the
agent lane (long-polls and reports) is encrypted too, as are the benchmark's requests.
"""

import argparse
import tempfile
from pathlib import Path
from typing import Any

from bench.jobs import compared, master_with_worker
from corral.self_signed import write_pair


def tls_cost(args: argparse.Namespace) -> dict[str, Any]:
    """Jobs/s and submit-to-start with TLS against without, in the same run."""
    with tempfile.TemporaryDirectory() as tmp:
        cert, key, _ = write_pair(Path(tmp), ["localhost"], ["127.0.0.1"])
        env = {"CORRAL_TLS_CERT": str(cert), "CORRAL_TLS_KEY": str(key)}
        with master_with_worker(env) as tls, master_with_worker() as plain:
            return compared({"tls": tls, "plain": plain}, args)

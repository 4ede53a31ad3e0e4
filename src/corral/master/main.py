"""Starting the master: claim its folder, port and database, then load and serve the API.

The claim needs little more than the standard library, so a second master refuses
at once; the web framework and the ORM take most of a start's CPU time to import
(about 1.5 s on a 2-core machine), and a refusal does not wait for them.
"""

from collections.abc import Callable

from corral.hardening import make_undumpable
from corral.master import tls
from corral.master.single_master import claim
from corral.settings import MasterSettings


def run_master(
    settings: MasterSettings,
    banner: bool = True,
    on_claimed: Callable[[MasterSettings], object] | None = None,
) -> int:
    """Serve the API until a signal arrives; return the exit code.

    Raises MasterStartError, before touching the database or any worker, when
    another master holds the data folder or the database, the port is taken, or
    the TLS certificate and key cannot serve. ``on_claimed`` is told the settings with
    the port actually bound, before serving.
    """
    # Its environment and memory (the database URL, keys once read) closed to its jobs.
    make_undumpable()
    fingerprint = tls.check_files(settings)
    with claim(settings) as (settings, sock, db_lock):
        tls.write_client_file(settings, fingerprint)
        if on_claimed is not None:
            on_claimed(settings)
        from corral.master.server import serve  # imported once the claim is held

        return serve(settings, sock, db_lock, banner)

"""Entry point for ``python -m corral.worker``."""

from corral.worker.main import main

raise SystemExit(main())

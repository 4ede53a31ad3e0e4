"""corral: run a fleet of worker processes and the jobs they execute."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from corral.client import Client

__version__ = "0.1.0"
__all__ = ["Client", "__version__"]


def __getattr__(name: str) -> Any:
    """``corral.Client`` on first use, so ``import corral`` (and every worker) stays cheap."""
    if name == "Client":
        from corral.client import Client

        return Client
    raise AttributeError(f"module 'corral' has no attribute {name!r}")

"""corral: run a fleet of worker processes and the jobs they execute."""

__version__ = "0.1.0"

"""A small Python client of the corral master: submit jobs, wait on them, read their output.

with Client() as corral:
    job = corral.submit(["make", "-j2"], cpus=2)
    print(corral.wait(job.id).state)
"""

from corral.client.api import Client
from corral.client.errors import ApiError, ClientError, MasterUnreachableError
from corral.client.job import TERMINAL_STATES, Job

__all__ = ["TERMINAL_STATES", "ApiError", "Client", "ClientError", "Job", "MasterUnreachableError"]

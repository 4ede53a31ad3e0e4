"""Errors shared by the store, the domain and the master; the API maps them to HTTP codes."""


class CorralError(Exception):
    """Base of every error corral raises on purpose."""


class NotFoundError(CorralError):
    """The named object does not exist (HTTP 404)."""


class ForbiddenError(CorralError):
    """The caller may never do this, however often it retries (HTTP 403)."""


class ConflictError(CorralError):
    """The request clashes with the current state (HTTP 409)."""


class InvalidInputError(CorralError):
    """The request is malformed in a way the schema could not catch (HTTP 422)."""


class InvalidTransitionError(ConflictError):
    """A state machine was asked to take an edge it does not have."""


class UnavailableError(CorralError):
    """A dependency (the database, the disk) cannot serve the request now (HTTP 503).

    Nothing was changed; the same request may succeed after ``retry_after_s``.
    """

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class MasterStartError(CorralError):
    """The master cannot start; the message says why, for the command line."""


class AnotherMasterError(MasterStartError):
    """Another master holds the data folder or the database."""

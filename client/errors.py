"""The client's errors: talking to Triton and writing results.

Triton's answers become :class:`RemoteError` subclasses in one place (``client.triton``), so
a caller tells apart what it must: bad input (:class:`BadInput`), nothing there right now
(:class:`ServerUnavailable`, :class:`ModelNotReady`), out of time (:class:`TimedOut`) and
any other failure (:class:`InferenceFailed`).
"""

from __future__ import annotations

from u2net.errors import ContractMismatch, InvalidImage, ServingError

__all__ = [
    "BadInput",
    "ContractMismatch",
    "FrameFailed",
    "InferenceFailed",
    "InvalidImage",
    "ModelNotReady",
    "OutputError",
    "RemoteError",
    "ServerGone",
    "ServerUnavailable",
    "ServingError",
    "TimedOut",
]


class RemoteError(ServingError):
    """The server, or the way to it, answered instead of a result.

    ``str(e)``: the line for the user; ``reason``: the server's own (first) line; ``status``:
    gRPC's status name (``UNAVAILABLE``), empty when the client itself decided.
    """

    def __init__(self, message: str, reason: str | None = None, status: str = "") -> None:
        super().__init__(message)
        self.reason = message if reason is None else reason
        self.status = status


class ServerUnavailable(RemoteError):
    """The Triton server cannot be reached."""


class ServerGone(ServerUnavailable):
    """The server has failed for longer than a restart takes: the circuit breaker is open
    (client.breaker), so requests end at once instead of waiting out their deadline."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, status="UNAVAILABLE")
        self.retry_after_s = retry_after_s


class ModelNotReady(RemoteError):
    """The requested model is unknown or not ready on the server."""


class InferenceFailed(RemoteError):
    """The server rejected or failed a request (after retries)."""


class BadInput(InferenceFailed):
    """The server refused the request's input (``INVALID_ARGUMENT``): not worth retrying."""


class TimedOut(InferenceFailed):
    """No answer within the request's timeout (all its attempts together)."""

    def __init__(self, timeout_s: float, reason: str = "", status: str = "") -> None:
        super().__init__(f"timed out after {timeout_s:g}s (raise --timeout)", reason, status)
        self.timeout_s = timeout_s


class OutputError(ServingError):
    """An output file cannot be written."""


class FrameFailed(ServingError):
    """One frame of a stream could not be cut; the frames before it were written."""

"""The client's errors: talking to Triton and writing results."""

from __future__ import annotations

from u2net.errors import ContractMismatch, InvalidImage, ServingError

__all__ = [
    "ContractMismatch",
    "InferenceFailed",
    "InvalidImage",
    "ModelNotReady",
    "OutputError",
    "ServerUnavailable",
    "ServingError",
]


class ServerUnavailable(ServingError):
    """The Triton server cannot be reached."""


class ModelNotReady(ServingError):
    """The requested model is unknown or not ready on the server."""


class InferenceFailed(ServingError):
    """The server rejected or failed a request (after retries)."""


class OutputError(ServingError):
    """An output file cannot be written."""

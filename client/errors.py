"""The project's exception tree. User-facing errors carry one clear line."""

from __future__ import annotations


class ServingError(Exception):
    """Base class: a problem the user can fix; the CLI prints it without a traceback."""


class ServerUnavailable(ServingError):
    """The Triton server cannot be reached."""


class ModelNotReady(ServingError):
    """The requested model is unknown or not ready on the server."""


class ContractMismatch(ServingError):
    """A served model does not follow the serving contract."""


class InvalidImage(ServingError):
    """An input image cannot be decoded or is not acceptable."""


class InferenceFailed(ServingError):
    """The server rejected or failed a request (after retries)."""


class OutputError(ServingError):
    """An output file cannot be written."""


class InvalidModel(ServingError):
    """An ONNX file is missing, corrupt or does not have U²-Net's shape."""


class FetchError(ServingError):
    """A model file could not be obtained from any source."""


class EngineBuildError(ServingError):
    """A TensorRT engine could not be built, verified or staged."""


class ServerStartError(ServingError):
    """The embedded Triton server could not be started."""

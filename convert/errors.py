"""convert's errors: getting, checking and building models."""

from __future__ import annotations

from u2net.errors import ServingError


class InvalidModel(ServingError):
    """An ONNX file is missing, corrupt or does not have U²-Net's shape."""


class FetchError(ServingError):
    """A model file could not be obtained from any source."""


class EngineBuildError(ServingError):
    """A TensorRT engine could not be built, verified or staged."""


class QuantizeError(ServingError):
    """An int8 variant could not be calibrated, quantized or staged."""

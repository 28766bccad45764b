"""The only module that imports ``tensorrt``: lazily, with an install hint when it is missing."""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from convert.errors import EngineBuildError
from u2net.deployment import NGC_TENSORRT_VERSION, TENSORRT_IMAGE

log = logging.getLogger(__name__)

INSTALL_HINT = (
    f"install TensorRT {NGC_TENSORRT_VERSION} (`pip install 'u2net-triton[gpu]'`) "
    f"or run inside the {TENSORRT_IMAGE} container (see docker-compose.yml)"
)


def load_tensorrt() -> ModuleType:
    """Import ``tensorrt`` or raise one clear line saying how to get it."""
    try:
        import tensorrt as trt
    except ImportError as e:
        raise EngineBuildError(f"TensorRT is not installed: {INSTALL_HINT}") from e
    except OSError as e:  # the wheel is there but libnvinfer or the CUDA libraries are not
        raise EngineBuildError(f"TensorRT cannot load its libraries ({e}); {INSTALL_HINT}") from e
    return trt


def tensorrt_major(trt: ModuleType) -> int:
    return int(str(trt.__version__).split(".")[0])


def make_logger(trt: ModuleType) -> Any:
    """A TensorRT logger that forwards to :mod:`logging`."""
    severity = trt.ILogger.Severity
    levels = {
        severity.INTERNAL_ERROR: logging.ERROR,
        severity.ERROR: logging.ERROR,
        severity.WARNING: logging.WARNING,
        severity.INFO: logging.DEBUG,
        severity.VERBOSE: logging.DEBUG,
    }

    class _Forward(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity: Any, msg: str) -> None:
            log.log(levels.get(severity, logging.INFO), "TensorRT: %s", msg)

    return _Forward()

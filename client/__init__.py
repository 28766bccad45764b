"""Everything that talks to Triton: the Python API (``Cutter``, ``AsyncCutter``), the gRPC link
with its retries, breaker and replicas (``client.triton``), the ``cutout`` model's client
(``client.cutout``), ``python -m client``'s subcommands (``client.commands``, their flags in
``client.args``) and load testing (``client.load``).

from client import Cutter
with Cutter("localhost:8001") as cutter:
    cutter.cut("photo.jpg").save("photo.out.png")
"""

from client.cutter import AsyncCutter, Cutter
from client.errors import (
    BadInput,
    ContractMismatch,
    InferenceFailed,
    InvalidImage,
    ModelNotReady,
    RemoteError,
    ServerUnavailable,
    ServingError,
    TimedOut,
)
from u2net.contract import CONTRACT, ServingContract
from u2net.options import OutputOptions

__all__ = [
    "CONTRACT",
    "AsyncCutter",
    "BadInput",
    "ContractMismatch",
    "Cutter",
    "InferenceFailed",
    "InvalidImage",
    "ModelNotReady",
    "OutputOptions",
    "RemoteError",
    "ServerUnavailable",
    "ServingContract",
    "ServingError",
    "TimedOut",
]

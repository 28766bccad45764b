"""A real gRPC server on loopback that speaks Triton's service with scripted answers.

It exists so the client's retry loop and timeout handling can be tested against a real gRPC
endpoint that fails (or sleeps) on demand, and counts every call it receives with its arrival
time. Answers are real ``tritonclient.grpc.service_pb2`` messages; inference answers an
all-zero mask of the contract's shape.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field

import grpc
from tritonclient.grpc import service_pb2 as pb

from u2net.contract import CONTRACT

SERVED = "u2netp_onnx"
ALWAYS = range(1, 1 << 30)


@dataclass
class Script:
    """What the fake answers; calls are numbered from 1, over all methods.

    ``down``: the calls answered ``down_status`` with ``down_message`` (by default
    UNAVAILABLE, as if nothing listened). ``abort_with``: a status every other call gets
    instead of an answer. ``stall_infer``: ModelInfer never answers (until the server stops).
    """

    down: range = range(0)
    down_status: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    down_message: str = "fake Triton: not yet"
    abort_with: grpc.StatusCode | None = None
    stall_infer: bool = False


@dataclass
class FakeTriton:
    url: str
    script: Script
    calls: list[tuple[str, float]] = field(default_factory=list)  # (method, monotonic arrival)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    def gaps(self) -> list[float]:
        """Seconds between consecutive arrivals."""
        times = [t for _, t in self.calls]
        return [b - a for a, b in itertools.pairwise(times)]

    def answer(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self.lock:
            self.calls.append((method, time.monotonic()))
            seen = len(self.calls)
        if seen in self.script.down:
            context.abort(self.script.down_status, self.script.down_message)
        if self.script.abort_with is not None:
            context.abort(self.script.abort_with, "fake Triton: scripted failure")
        if method == "ServerReady":
            return pb.ServerReadyResponse(ready=True).SerializeToString()
        if method == "ModelReady":
            return pb.ModelReadyResponse(ready=True).SerializeToString()  # any name is ready
        if method == "ModelMetadata":
            return _metadata().SerializeToString()
        if method == "ModelInfer" and self.script.stall_infer:
            self.stop.wait(30)  # longer than any client timeout in the tests
            context.abort(grpc.StatusCode.CANCELLED, "fake Triton: stopped")
        if method == "ModelInfer":
            return _masks(pb.ModelInferRequest.FromString(request)).SerializeToString()
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"fake Triton: no {method}")
        raise AssertionError("unreachable")  # context.abort raises


def _metadata() -> pb.ModelMetadataResponse:
    tensor = pb.ModelMetadataResponse.TensorMetadata
    return pb.ModelMetadataResponse(
        name=SERVED,
        versions=["1"],
        platform="onnxruntime_onnx",
        inputs=[
            tensor(
                name=CONTRACT.input_name,
                datatype=CONTRACT.input_dtype,
                shape=[-1, *CONTRACT.input_dims],
            )
        ],
        outputs=[
            tensor(
                name=CONTRACT.output_name,
                datatype=CONTRACT.output_dtype,
                shape=[-1, *CONTRACT.output_dims],
            )
        ],
    )


def _masks(request: pb.ModelInferRequest) -> pb.ModelInferResponse:
    """All-zero masks, one per image of the request's batch."""
    shape = [request.inputs[0].shape[0], *CONTRACT.output_dims]
    size = shape[0] * shape[1] * shape[2]
    output = pb.ModelInferResponse.InferOutputTensor(
        name=CONTRACT.output_name, datatype=CONTRACT.output_dtype, shape=shape
    )
    return pb.ModelInferResponse(
        model_name=request.model_name, outputs=[output], raw_output_contents=[bytes(size)]
    )


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, fake: FakeTriton) -> None:
        self.fake = fake

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method.rsplit("/", 1)[-1]

        def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
            return self.fake.answer(method, request, context)

        return grpc.unary_unary_rpc_method_handler(unary)  # raw bytes in and out


@contextmanager
def fake_triton(script: Script) -> Iterator[FakeTriton]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    port = server.add_insecure_port("127.0.0.1:0")
    fake = FakeTriton(f"127.0.0.1:{port}", script)
    server.add_generic_rpc_handlers((_Handler(fake),))
    server.start()
    try:
        yield fake
    finally:
        fake.stop.set()
        server.stop(grace=None).wait(10)

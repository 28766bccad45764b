"""The gateway's only link to Triton: ``cutout`` over ``tritonclient.grpc.aio``.

Bytes and request parameters go in, ``cutout``'s encoded result, its size and foreground box
come back. tritonclient's errors become web's here, once: INVALID_ARGUMENT (bad input, said in
one line by ``cutout``) -> 400, UNAVAILABLE / NOT_FOUND -> 503, DEADLINE_EXCEEDED -> 504.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
from tritonclient.utils import InferenceServerException

from u2net.contract import CUTOUT, CutoutContract
from u2net.job import CutResult
from web.errors import BadRequest, TritonUnavailable, UpstreamFailed, UpstreamTimeout, WebError

log = logging.getLogger(__name__)

MAX_MESSAGE = 2**31 - 1
READY_TIMEOUT_S = 2.0
CHANNEL_ARGS = [
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    # reconnect within a second once Triton is back (gRPC's default backoff grows to 120 s)
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
BAD_INPUT = {"StatusCode.INVALID_ARGUMENT"}
UNAVAILABLE = {"StatusCode.UNAVAILABLE", "StatusCode.NOT_FOUND"}
DEADLINE = "StatusCode.DEADLINE_EXCEEDED"


def translate(e: InferenceServerException, url: str, timeout_s: float) -> WebError:
    status = str(e.status())
    message = (str(e.message() or e).strip().splitlines() or [""])[0]
    if status in BAD_INPUT:
        return BadRequest(message)
    if status in UNAVAILABLE:
        return TritonUnavailable(f"the inference server at {url} is unavailable: {message}")
    if status == DEADLINE:
        return UpstreamTimeout(f"the inference server did not answer within {timeout_s:g}s")
    return UpstreamFailed(f"processing failed: {message}")


class Gateway:
    """One gRPC channel to Triton, created inside the serving event loop (:meth:`open`)."""

    def __init__(self, url: str, timeout_s: float, contract: CutoutContract = CUTOUT) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.contract = contract
        self.client = None

    async def open(self) -> None:
        import tritonclient.grpc.aio as aioclient

        self.client = aioclient.InferenceServerClient(self.url, channel_args=CHANNEL_ARGS)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def not_ready_reason(self) -> str | None:
        """None when Triton and ``cutout`` are ready, else why not (one line)."""
        try:
            if not await self.client.is_server_ready(client_timeout=READY_TIMEOUT_S):
                return f"the inference server at {self.url} is not ready"
            name = self.contract.name
            if not await self.client.is_model_ready(name, client_timeout=READY_TIMEOUT_S):
                return f"model {name} is not ready on {self.url}"
        except InferenceServerException as e:
            return str(translate(e, self.url, READY_TIMEOUT_S))
        return None

    async def cut(self, data: bytes, parameters: Mapping[str, bool | int | str]) -> CutResult:
        """One encoded image and ``cutout``'s parameters -> the encoded result."""
        import tritonclient.grpc.aio as aioclient

        contract = self.contract
        tensor = aioclient.InferInput(contract.input_name, [1], contract.bytes_dtype)
        tensor.set_data_from_numpy(np.array([data], dtype=np.object_))
        outputs = [
            aioclient.InferRequestedOutput(name)
            for name in (contract.output_name, contract.size_name, contract.box_name)
        ]
        try:
            result = await self.client.infer(
                contract.name,
                [tensor],
                outputs=outputs,
                parameters=dict(parameters),
                client_timeout=self.timeout_s,
            )
        except InferenceServerException as e:
            raise translate(e, self.url, self.timeout_s) from e
        width, height = (int(v) for v in result.as_numpy(contract.size_name))
        box = tuple(int(v) for v in result.as_numpy(contract.box_name))
        data_out = result.as_numpy(contract.output_name).reshape(-1)[0]
        return CutResult(bytes(data_out), (width, height), box)  # type: ignore[arg-type]

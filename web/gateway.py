"""The gateway's only link to Triton: ``cutout`` over ``tritonclient.grpc.aio``.

Bytes and request parameters go in, ``cutout``'s encoded result, its size and foreground box
come back. tritonclient's errors become web's here, once: INVALID_ARGUMENT (bad input, said in
one line by ``cutout``) -> 400, UNAVAILABLE / NOT_FOUND -> 503, DEADLINE_EXCEEDED -> 504.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import numpy as np
from tritonclient.utils import InferenceServerException

from u2net.contract import CUTOUT, CutoutContract
from u2net.job import CutResult
from u2net.retry import Deadline, RetryPolicy, retryable
from u2net.targets import channel_args, grpc_target, is_balanced
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
MIN_ATTEMPT_S = 0.05


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


async def _attempts(
    call: Callable[[float], Awaitable[Any]], policy: RetryPolicy, deadline: Deadline
) -> Any:
    """``call(timeout)`` until it answers, retried by u2net.retry's rules within ``deadline``
    (``cutout`` was served before: the gateway only forwards once it has been ready)."""
    delays = policy.delays()
    while True:
        try:
            return await call(max(deadline.remaining(), MIN_ATTEMPT_S))
        except InferenceServerException as e:
            delay = next(delays, None)
            again = retryable(str(e.status()), str(e.message() or ""), served_before=True)
            if not again or delay is None or not deadline.allows(delay):
                raise
            log.debug("%s; retrying in %.2fs", e.status(), delay)
            await asyncio.sleep(delay)


class Gateway:
    """One gRPC channel to Triton, created inside the serving event loop (:meth:`open`)."""

    def __init__(
        self,
        url: str,
        timeout_s: float,
        contract: CutoutContract = CUTOUT,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.retry = retry
        self.contract = contract
        self.client = None

    async def open(self) -> None:
        import tritonclient.grpc.aio as aioclient

        args = CHANNEL_ARGS + (channel_args() if is_balanced(self.url) else [])
        self.client = aioclient.InferenceServerClient(grpc_target(self.url), channel_args=args)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def _infer_retrying(self, tensor: Any, outputs: list, parameters: dict) -> Any:
        async def attempt(timeout_s: float) -> Any:
            return await self.client.infer(
                self.contract.name,
                [tensor],
                outputs=outputs,
                parameters=parameters,
                client_timeout=timeout_s,
            )

        try:
            return await _attempts(attempt, self.retry, Deadline(self.timeout_s))
        except InferenceServerException as e:
            raise translate(e, self.url, self.timeout_s) from e

    async def not_ready_reason(self) -> str | None:
        """None when ``cutout`` is ready, else why not (one line).

        Only ``cutout`` is asked: with strict readiness a server reports "not ready" while any
        model failed to load (a TensorRT plan, say) even though ``cutout`` serves.
        """
        try:
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
        result = await self._infer_retrying(tensor, outputs, dict(parameters))
        width, height = (int(v) for v in result.as_numpy(contract.size_name))
        box = tuple(int(v) for v in result.as_numpy(contract.box_name))
        data_out = result.as_numpy(contract.output_name).reshape(-1)[0]
        return CutResult(bytes(data_out), (width, height), box)  # type: ignore[arg-type]

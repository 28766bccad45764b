"""All of the client's gRPC: connect, pick the served model, check its contract, infer.

One base, :class:`ModelBase`, holds everything the blocking and the asyncio clients share:
which served names to try, readiness, the contract check, the retry schedule and the one
place where tritonclient's errors become ours. :class:`TritonModel` (blocking, thread-safe)
and :class:`AsyncTritonModel` (``tritonclient.grpc.aio``) only add the calls themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from client.errors import InferenceFailed, ModelNotReady, ServerUnavailable
from u2net.catalogue import DEFAULT_MODEL, KNOWN_MODELS, served_candidates
from u2net.contract import CONTRACT, ServingContract, check_metadata
from u2net.deployment import START_HINT, default_url
from u2net.errors import ServingError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 60.0
UNAVAILABLE = "StatusCode.UNAVAILABLE"
DEADLINE = "StatusCode.DEADLINE_EXCEEDED"
CATALOGUE_NAMES = tuple(n for m in KNOWN_MODELS.values() for n in m.served_names)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of UNAVAILABLE with bounded exponential backoff (``retries=0``: none)."""

    retries: int = 3
    first_delay_s: float = 0.2
    max_delay_s: float = 2.0

    def delays(self) -> Iterator[float]:
        delay = self.first_delay_s
        for _ in range(self.retries):
            yield delay
            delay = min(delay * 2, self.max_delay_s)


def translate(e: InferenceServerException, url: str, timeout_s: float | None) -> ServingError:
    """The one place that turns tritonclient's errors into ours."""
    status = e.status()
    if status == UNAVAILABLE:
        return ServerUnavailable(f"no Triton server answering at {url}: {START_HINT}")
    if status == DEADLINE:
        return InferenceFailed(f"timed out after {timeout_s:g}s (raise --timeout)")
    return InferenceFailed(str(e.message() or e).splitlines()[0])


def not_ready(candidates: list[str], ready: list[str]) -> ModelNotReady:
    shown = ", ".join(sorted(ready)) or "none"
    wanted = " or ".join(candidates)
    return ModelNotReady(f"model {wanted} is not ready on the server; ready models: {shown}")


def resolve_model(requested: str, ready: list[str]) -> str:
    """``u2net`` -> ``u2net_trt`` if ready, else ``u2net_onnx``; served names pass as they are."""
    for name in served_candidates(requested):
        if name in ready:
            return name
    raise not_ready(served_candidates(requested), ready)


def make_inputs(batch: np.ndarray, contract: ServingContract = CONTRACT) -> list:
    inp = grpcclient.InferInput(contract.input_name, list(batch.shape), contract.input_dtype)
    inp.set_data_from_numpy(np.ascontiguousarray(batch, dtype=contract.input_np_dtype))
    return [inp]


class ModelBase:
    """What both clients share; subclasses only make the calls (blocking or awaited)."""

    def __init__(
        self,
        url: str | None,
        model: str,
        timeout_s: float,
        retry: RetryPolicy,
        contract: ServingContract,
    ) -> None:
        self.url = url or default_url()
        self.requested = model
        self.timeout_s = timeout_s
        self.retry = retry
        self.contract = contract
        self.served_name: str | None = None  # set once resolved and checked
        self.outputs = [grpcclient.InferRequestedOutput(contract.output_name)]

    def translate(self, e: InferenceServerException) -> ServingError:
        return translate(e, self.url, self.timeout_s)

    def server_not_ready(self) -> ServerUnavailable:
        return ServerUnavailable(
            f"the Triton server at {self.url} is up but not ready (models still loading?); "
            "try again shortly"
        )

    def candidates(self) -> list[str]:
        """Served names to try, preferred first."""
        return served_candidates(self.requested)

    def check(self, metadata: dict) -> None:
        """Raise ContractMismatch unless the served model follows the contract."""
        check_metadata(metadata, self.contract)

    def accept(self, name: str, metadata: dict) -> str:
        """Check the chosen model against the contract and remember it."""
        self.check(metadata)
        log.info("using model %s at %s", name, self.url)
        self.served_name = name
        return name

    def retry_delay(self, e: InferenceServerException, delays: Iterator[float]) -> float | None:
        """How long to wait before the next attempt, or None to give up."""
        delay = next(delays, None) if e.status() == UNAVAILABLE else None
        if delay is not None:
            log.debug("server at %s unavailable, retrying in %.1fs", self.url, delay)
        return delay


class TritonModel(ModelBase):
    """One served model that follows the contract (blocking gRPC, thread-safe)."""

    def __init__(
        self,
        url: str | None = None,
        model: str = DEFAULT_MODEL,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy = RetryPolicy(),
        contract: ServingContract = CONTRACT,
    ) -> None:
        super().__init__(url, model, timeout_s, retry, contract)
        self.client = grpcclient.InferenceServerClient(self.url)

    def _call(self, method: str, *args: object, **kwargs: object) -> Any:
        """One remote call, UNAVAILABLE retried with backoff, errors translated."""
        delays = self.retry.delays()
        while True:
            try:
                return getattr(self.client, method)(*args, client_timeout=self.timeout_s, **kwargs)
            except InferenceServerException as e:
                delay = self.retry_delay(e, delays)
                if delay is None:
                    raise self.translate(e) from e
                time.sleep(delay)

    def ready_models(self) -> list[str]:
        """The catalogue's served names that are ready (asked one by one, no admin API)."""
        return [n for n in CATALOGUE_NAMES if self._call("is_model_ready", n)]

    def resolve(self) -> str:
        """The served model's name; resolved and checked against the contract on first use."""
        if self.served_name is None:
            if not self._call("is_server_ready"):
                raise self.server_not_ready()
            candidates = self.candidates()
            name = next((n for n in candidates if self._call("is_model_ready", n)), None)
            if name is None:
                raise not_ready(candidates, self.ready_models())
            self.accept(name, self._call("get_model_metadata", name, as_json=True))
        return self.served_name  # type: ignore[return-value]

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """uint8 [n, size, size, 3] -> uint8 masks [n, size, size]."""
        result = self._call(
            "infer", self.resolve(), make_inputs(batch, self.contract), outputs=self.outputs
        )
        return result.as_numpy(self.contract.output_name)

    def statistics(self) -> dict:
        """Triton's inference statistics of this model (JSON form)."""
        return self._call("get_inference_statistics", self.resolve(), as_json=True)

    def close(self) -> None:
        self.client.close()


class AsyncTritonModel(ModelBase):
    """The same on ``tritonclient.grpc.aio``: every call awaited, resolution under a lock."""

    def __init__(
        self,
        url: str | None = None,
        model: str = DEFAULT_MODEL,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy = RetryPolicy(),
        contract: ServingContract = CONTRACT,
    ) -> None:
        import tritonclient.grpc.aio as aioclient

        super().__init__(url, model, timeout_s, retry, contract)
        self.client = aioclient.InferenceServerClient(self.url)
        self._lock = asyncio.Lock()

    async def _call(self, method: str, *args: object, **kwargs: object) -> Any:
        call: Callable[..., Awaitable[Any]] = getattr(self.client, method)
        delays = self.retry.delays()
        while True:
            try:
                return await call(*args, client_timeout=self.timeout_s, **kwargs)
            except InferenceServerException as e:
                delay = self.retry_delay(e, delays)
                if delay is None:
                    raise self.translate(e) from e
                await asyncio.sleep(delay)

    async def ready_models(self) -> list[str]:
        return [n for n in CATALOGUE_NAMES if await self._call("is_model_ready", n)]

    async def resolve(self) -> str:
        async with self._lock:
            if self.served_name is None:
                if not await self._call("is_server_ready"):
                    raise self.server_not_ready()
                name = None
                for candidate in self.candidates():
                    if await self._call("is_model_ready", candidate):
                        name = candidate
                        break
                if name is None:
                    raise not_ready(self.candidates(), await self.ready_models())
                self.accept(name, await self._call("get_model_metadata", name, as_json=True))
            return self.served_name  # type: ignore[return-value]

    async def infer(self, batch: np.ndarray) -> np.ndarray:
        name = await self.resolve()
        inputs = make_inputs(batch, self.contract)
        result = await self._call("infer", name, inputs, outputs=self.outputs)
        return result.as_numpy(self.contract.output_name)

    async def statistics(self) -> dict:
        return await self._call("get_inference_statistics", await self.resolve(), as_json=True)

    async def close(self) -> None:
        await self.client.close()

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
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from client.errors import InferenceFailed, ModelNotReady, ServerUnavailable
from client.loadgen import merge_statistics
from u2net.catalogue import DEFAULT_MODEL, KNOWN_MODELS, served_candidates
from u2net.contract import CONTRACT, ServingContract, check_metadata
from u2net.deployment import START_HINT, default_url
from u2net.errors import ServingError
from u2net.retry import DEADLINE_EXCEEDED, UNAVAILABLE, Deadline, RetryPolicy, retryable
from u2net.targets import addresses, channel_args, grpc_target, is_balanced

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 60.0
MIN_ATTEMPT_S = 0.05  # an attempt started just before the deadline still gets this long
CATALOGUE_NAMES = tuple(n for m in KNOWN_MODELS.values() for n in m.served_names)


def translate(e: InferenceServerException, url: str, timeout_s: float | None) -> ServingError:
    """The one place that turns tritonclient's errors into ours."""
    status = e.status()
    if status == UNAVAILABLE:
        return ServerUnavailable(f"no Triton server answering at {url}: {START_HINT}")
    if status == DEADLINE_EXCEEDED:
        return InferenceFailed(f"timed out after {timeout_s:g}s (raise --timeout)")
    return InferenceFailed(str(e.message() or e).splitlines()[0])


def client_options(target: str) -> dict[str, Any]:
    """tritonclient's arguments for ``target``: gRPC's round-robin over several replicas."""
    if not is_balanced(target):
        return {"url": target}
    return {"url": grpc_target(target), "channel_args": channel_args()}


def not_ready(candidates: list[str], ready: list[str]) -> ModelNotReady:
    shown = ", ".join(sorted(ready)) or "none"
    wanted = " or ".join(candidates)
    return ModelNotReady(f"model {wanted} is not ready on the server; ready models: {shown}")


def resolve_model(candidates: list[str], ready: list[str]) -> str:
    """The first candidate that is ready (``u2net``'s are ``u2net_trt``, then ``u2net_onnx``).

    ``ready``: the ready candidates, or (when none is) every ready model, for the message.
    """
    for name in candidates:
        if name in ready:
            return name
    raise not_ready(candidates, ready)


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

    def retry_delay(
        self, e: InferenceServerException, delays: Iterator[float], deadline: Deadline
    ) -> float | None:
        """How long to wait before the next attempt, or None to give up (u2net.retry's rules:
        the server unreachable, or a model served before now missing, within the deadline)."""
        served_before = self.served_name is not None
        if not retryable(str(e.status()), str(e.message() or ""), served_before):
            return None
        delay = next(delays, None)
        if delay is None or not deadline.allows(delay):
            return None
        log.debug("%s at %s, retrying in %.2fs", e.status(), self.url, delay)
        return delay

    def replicas(self) -> list[str]:
        """The addresses of a listed target (two or more) to ask one by one, else []."""
        replicas = addresses(self.url) or []
        if not replicas:
            log.warning("statistics of %s come from one replica (a dns: target)", self.url)
        return replicas if len(replicas) > 1 else []

    def replica_statistics(self, address: str, name: str) -> dict:
        """One replica's statistics of ``name`` (blocking; one attempt, errors translated)."""
        client = grpcclient.InferenceServerClient(address)
        try:
            return client.get_inference_statistics(
                name, as_json=True, client_timeout=self.timeout_s
            )
        except InferenceServerException as e:
            raise self.translate(e) from e
        finally:
            client.close()

    def attempt_timeout(self, deadline: Deadline) -> float:
        """What is left of the request's budget (never less than a sliver)."""
        return max(deadline.remaining(), MIN_ATTEMPT_S)


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
        self.client = grpcclient.InferenceServerClient(**client_options(self.url))

    def _call(self, method: str, *args: object, **kwargs: object) -> Any:
        """One remote call within the request's deadline, retried by u2net.retry's rules with
        jittered backoff, errors translated."""
        deadline, delays = Deadline(self.timeout_s), self.retry.delays()
        call = getattr(self.client, method)
        while True:
            try:
                return call(*args, client_timeout=self.attempt_timeout(deadline), **kwargs)
            except InferenceServerException as e:
                delay = self.retry_delay(e, delays, deadline)
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
            wanted = self.candidates()
            ready = [n for n in wanted if self._call("is_model_ready", n)]
            name = resolve_model(wanted, ready or self.ready_models())
            self.accept(name, self._call("get_model_metadata", name, as_json=True))
        return self.served_name  # type: ignore[return-value]

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """uint8 [n, size, size, 3] -> uint8 masks [n, size, size]."""
        result = self._call(
            "infer", self.resolve(), make_inputs(batch, self.contract), outputs=self.outputs
        )
        return result.as_numpy(self.contract.output_name)

    def statistics(self) -> dict:
        """Triton's inference statistics of this model (JSON form), summed over every replica
        of a listed target; a ``dns:`` target's come from whichever replica answers."""
        name = self.resolve()
        replicas = self.replicas()
        if not replicas:
            return self._call("get_inference_statistics", name, as_json=True)
        return merge_statistics([self.replica_statistics(a, name) for a in replicas], name)

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
        self.client = aioclient.InferenceServerClient(**client_options(self.url))
        self._lock = asyncio.Lock()

    async def _call(self, method: str, *args: object, **kwargs: object) -> Any:
        call: Callable[..., Awaitable[Any]] = getattr(self.client, method)
        deadline, delays = Deadline(self.timeout_s), self.retry.delays()
        while True:
            try:
                return await call(*args, client_timeout=self.attempt_timeout(deadline), **kwargs)
            except InferenceServerException as e:
                delay = self.retry_delay(e, delays, deadline)
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
                wanted = self.candidates()
                ready = [n for n in wanted if await self._call("is_model_ready", n)]
                name = resolve_model(wanted, ready or await self.ready_models())
                self.accept(name, await self._call("get_model_metadata", name, as_json=True))
            return self.served_name  # type: ignore[return-value]

    async def infer(self, batch: np.ndarray) -> np.ndarray:
        name = await self.resolve()
        inputs = make_inputs(batch, self.contract)
        result = await self._call("infer", name, inputs, outputs=self.outputs)
        return result.as_numpy(self.contract.output_name)

    async def statistics(self) -> dict:
        """As :meth:`TritonModel.statistics`: summed over every replica of a listed target."""
        name = await self.resolve()
        replicas = self.replicas()
        if not replicas:
            return await self._call("get_inference_statistics", name, as_json=True)
        parts = await asyncio.gather(
            *(asyncio.to_thread(self.replica_statistics, a, name) for a in replicas)
        )
        return merge_statistics(list(parts), name)

    async def close(self) -> None:
        await self.client.close()

"""All of the client's gRPC: the channel, the retry loop, Triton's errors made ours, and the
models on top of them.

:class:`Link` holds what every connection shares, blocking or asyncio: the address, the
request's budget, client.retry's rules (with whether this client ever reached the server) and
the one translation of tritonclient's errors. :class:`BlockingLink` and :class:`AsyncLink`
only add the channel and the calls. :class:`TritonServer` asks one server about any model
(the doctor, the benches); :class:`ModelBase` adds the choice of a served model and its
contract check, for :class:`TritonModel` (blocking, thread-safe) and
:class:`AsyncTritonModel` (``tritonclient.grpc.aio``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from client.breaker import Breaker
from client.channels import Channels
from client.errors import (
    BadInput,
    InferenceFailed,
    ModelNotReady,
    RemoteError,
    ServerGone,
    ServerUnavailable,
    TimedOut,
)
from client.retry import (
    CANCELLED,
    DEADLINE_EXCEEDED,
    INVALID_ARGUMENT,
    UNAVAILABLE,
    Attempts,
    RetryPolicy,
    model_gone,
    retryable,
)
from client.statistics import merge_statistics
from client.targets import DEFAULT_RERESOLVE_S, addresses, grpc_target, is_balanced, resolves
from u2net.catalogue import (
    DEFAULT_MODEL,
    KNOWN_MODELS,
    SERVED_NAMES,
    base_name,
    first_ready,
    served_candidates,
)
from u2net.contract import CONTRACT, ServingContract, check_metadata, sized_as_served
from u2net.deployment import START_HINT, default_url

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 60.0
ONE_ATTEMPT = RetryPolicy(retries=0)
CATALOGUE_NAMES = SERVED_NAMES
INT32_MAX = 2**31 - 1
# several replicas: round-robin over those gRPC's health checks (grpc.health.v1) see as
# serving; a server without that service is treated as healthy, so this only ever helps
SERVICE_CONFIG = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "healthCheckConfig": {"serviceName": ""},
}


def channel_options(target: str) -> dict[str, Any]:
    """tritonclient's arguments for ``target``: messages of any size (tritonclient's own
    default, dropped as soon as channel arguments are given), reconnection within a second
    once a lost server is back (gRPC's default backoff grows to 120 s) and, for several
    replicas, gRPC's round-robin over the healthy ones."""
    args: list[tuple[str, Any]] = [
        ("grpc.max_send_message_length", INT32_MAX),
        ("grpc.max_receive_message_length", INT32_MAX),
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.min_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 1000),
    ]
    if is_balanced(target):
        args += [
            ("grpc.lb_policy_name", "round_robin"),
            ("grpc.service_config", json.dumps(SERVICE_CONFIG)),
            ("grpc.enable_retries", 0),  # our retry rules (client.retry) decide, once
        ]
    return {"url": grpc_target(target), "channel_args": args}


def translate(e: InferenceServerException, url: str, timeout_s: float) -> RemoteError:
    """The one place that turns tritonclient's errors into ours: bad input, the server or
    the model not there right now (as client.retry reads Triton), out of time, or a failure."""
    status = str(e.status() or "")
    reason = (str(e.message() or e).strip().splitlines() or [""])[0]
    name = status.removeprefix("StatusCode.")
    if model_gone(status, reason):
        return ModelNotReady(reason, status=name)
    if status == UNAVAILABLE:
        return ServerUnavailable(f"no Triton server answering at {url}: {START_HINT}", reason, name)
    if status == CANCELLED:  # a server that stops cancels the calls it is running
        return ServerUnavailable(
            f"the Triton server at {url} stopped during the request", reason, name
        )
    if status == INVALID_ARGUMENT:
        return BadInput(reason, status=name)
    if status == DEADLINE_EXCEEDED:
        return TimedOut(timeout_s, reason, name)
    return InferenceFailed(reason, status=name)


def not_ready(candidates: list[str], ready: list[str]) -> ModelNotReady:
    shown = ", ".join(sorted(ready)) or "none"
    wanted = " or ".join(candidates)
    return ModelNotReady(f"model {wanted} is not ready on the server; ready models: {shown}")


def resolve_model(candidates: list[str], ready: list[str]) -> str:
    """The first candidate that is ready (``u2net``'s are ``u2net_trt``, then ``u2net_onnx``).

    ``ready``: the ready candidates, or (when none is) every ready model, for the message.
    """
    return first_ready(candidates, ready, lambda: not_ready(candidates, ready))


def make_inputs(batch: np.ndarray, contract: ServingContract = CONTRACT) -> list:
    inp = grpcclient.InferInput(contract.input_name, list(batch.shape), contract.input_dtype)
    inp.set_data_from_numpy(np.ascontiguousarray(batch, dtype=contract.input_np_dtype))
    return [inp]


def gone(url: str, breaker: Breaker) -> ServerGone:
    return ServerGone(
        f"the Triton server at {url} has not answered for {breaker.outage_s():.0f}s "
        f"(more than the {breaker.policy.grace_s:g}s allowed for a restart)",
        breaker.retry_after_s(),
    )


class Link:
    """What every connection shares; subclasses hold the channels and make the calls.

    ``breaker``: a circuit breaker shared by every link to the same servers (None: none);
    ``reresolve_s``: how often a ``dns:`` target gets a new channel (see client.channels).
    """

    def __init__(
        self,
        url: str | None,
        timeout_s: float,
        retry: RetryPolicy,
        *,
        breaker: Breaker | None = None,
        reresolve_s: float | None = DEFAULT_RERESOLVE_S,
    ) -> None:
        self.url = url or default_url()
        self.timeout_s = timeout_s
        self.retry = retry
        self.breaker = breaker
        self.renew_s = reresolve_s if resolves(self.url) else None
        self.reached = False  # a call was answered: from then on a lost server is waited for

    def served_before(self) -> bool:
        """Was the model asked for served before? (Then "not loaded" means "restarting".)"""
        return False

    def attempts(
        self, timeout_s: float | None = None, retry: RetryPolicy | None = None
    ) -> Attempts:
        """A new request's attempts: this link's budget and retry policy unless given."""
        return Attempts(retry or self.retry, timeout_s or self.timeout_s)

    def admit(self, gated: bool) -> None:
        """A new request: refused at once (ServerGone) while the breaker is open."""
        if gated and self.breaker is not None and not self.breaker.allow():
            raise gone(self.url, self.breaker)

    def answered(self, gated: bool) -> None:
        self.reached = True
        if gated and self.breaker is not None:
            self.breaker.succeeded()

    def wait_or_raise(self, e: InferenceServerException, attempts: Attempts, gated: bool) -> float:
        """The wait before the next attempt (client.retry's rules); when there is none, raise
        the translated error. A failure the retries would wait out counts against the
        breaker, and once the breaker opens the request ends (ServerGone)."""
        status, message = str(e.status() or ""), str(e.message() or "")
        served_before = self.served_before()
        breaker = self.breaker if gated else None
        if breaker is not None and retryable(status, message, served_before):
            breaker.failed()
            if breaker.is_open():
                raise gone(self.url, breaker) from e
        elif breaker is not None and status != DEADLINE_EXCEEDED:
            breaker.succeeded()  # the server answered (bad input, say): it is there
        delay = attempts.wait(status, message, served_before=served_before, reached=self.reached)
        if delay is None:
            raise translate(e, self.url, attempts.timeout_s) from e
        log.debug("%s at %s, retrying in %.2fs", status, self.url, delay)
        return delay


class BlockingLink(Link):
    """Blocking channels (thread-safe)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channels = Channels(
            lambda: grpcclient.InferenceServerClient(**channel_options(self.url)), self.renew_s
        )

    def _call(
        self,
        method: str,
        *args: Any,
        attempts: Attempts | None = None,
        gated: bool = True,
        **kwargs: Any,
    ) -> Any:
        """One remote call within the request's budget, retried, errors translated;
        ``gated``: behind the breaker (which counts its failures)."""
        attempts = attempts or self.attempts()
        self.admit(gated)
        while True:
            client = self.channels.acquire()
            try:
                result = getattr(client, method)(*args, client_timeout=attempts.timeout(), **kwargs)
            except InferenceServerException as e:
                delay = self.wait_or_raise(e, attempts, gated)
            else:
                self.answered(gated)
                return result
            finally:
                retired = self.channels.release(client)
                if retired is not None:
                    retired.close()
            time.sleep(delay)

    def close(self) -> None:
        for client in self.channels.all():
            client.close()


class AsyncLink(Link):
    """asyncio channels (``tritonclient.grpc.aio``): create the link in the loop that uses it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        import tritonclient.grpc.aio as aioclient

        super().__init__(*args, **kwargs)
        self.channels = Channels(
            lambda: aioclient.InferenceServerClient(**channel_options(self.url)), self.renew_s
        )

    async def _call(
        self,
        method: str,
        *args: Any,
        attempts: Attempts | None = None,
        gated: bool = True,
        **kwargs: Any,
    ) -> Any:
        """As :meth:`BlockingLink._call`, awaited."""
        attempts = attempts or self.attempts()
        self.admit(gated)
        while True:
            client = self.channels.acquire()
            call: Callable[..., Awaitable[Any]] = getattr(client, method)
            try:
                result = await call(*args, client_timeout=attempts.timeout(), **kwargs)
            except InferenceServerException as e:
                delay = self.wait_or_raise(e, attempts, gated)
            else:
                self.answered(gated)
                return result
            finally:
                retired = self.channels.release(client)
                if retired is not None:
                    await retired.close()
            await asyncio.sleep(delay)

    async def close(self) -> None:
        for client in self.channels.all():
            await client.close()


class TritonServer(BlockingLink):
    """Blocking questions to one Triton server about any model, by name (the doctor's and
    the benches'): no model choice, no contract check."""

    def __init__(
        self,
        url: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        super().__init__(url, timeout_s, retry)

    def version(self) -> str:
        return str(self._call("get_server_metadata", as_json=True)["version"])

    def is_live(self) -> bool:
        return bool(self._call("is_server_live"))

    def is_ready(self) -> bool:
        return bool(self._call("is_server_ready"))

    def is_model_ready(self, name: str) -> bool:
        return bool(self._call("is_model_ready", name))

    def model_config(self, name: str) -> dict:
        return self._call("get_model_config", name, as_json=True)["config"]

    def model_metadata(self, name: str) -> dict:
        return self._call("get_model_metadata", name, as_json=True)

    def statistics(self, name: str) -> dict:
        return self._call("get_inference_statistics", name, as_json=True)

    def infer(
        self,
        name: str,
        batch: np.ndarray,
        contract: ServingContract = CONTRACT,
        timeout_s: float | None = None,
    ) -> np.ndarray:
        """The contract's batch -> masks, from the model called ``name`` (``timeout_s``: this
        request's budget instead of the server's)."""
        outputs = [grpcclient.InferRequestedOutput(contract.output_name)]
        attempts = self.attempts(timeout_s)
        result = self._call(
            "infer", name, make_inputs(batch, contract), outputs=outputs, attempts=attempts
        )
        return result.as_numpy(contract.output_name)

    def __enter__(self) -> TritonServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ModelBase(Link):
    """One served model: which name to use and its contract (mixed with a channel below)."""

    asks_server_ready = True  # False: only the model's own readiness counts

    def __init__(
        self,
        url: str | None,
        model: str,
        timeout_s: float,
        retry: RetryPolicy,
        contract: ServingContract,
        *,
        breaker: Breaker | None = None,
        reresolve_s: float | None = DEFAULT_RERESOLVE_S,
    ) -> None:
        super().__init__(url, timeout_s, retry, breaker=breaker, reresolve_s=reresolve_s)
        self.requested = model
        self.contract = contract
        self.served_name: str | None = None  # set once resolved and checked
        self.outputs = [grpcclient.InferRequestedOutput(contract.output_name)]

    def served_before(self) -> bool:
        return self.served_name is not None

    def server_not_ready(self) -> ServerUnavailable:
        return ServerUnavailable(
            f"the Triton server at {self.url} is up but not ready (models still loading?); "
            "try again shortly"
        )

    def candidates(self) -> list[str]:
        """Served names to try, preferred first."""
        return served_candidates(self.requested)

    def check(self, metadata: dict) -> None:
        """Raise ContractMismatch unless the served model follows the contract (a model the
        catalogue does not know, a custom one, at the size it is served at)."""
        if base_name(self.requested) not in KNOWN_MODELS:
            self.contract = sized_as_served(metadata, self.contract)
        check_metadata(metadata, self.contract)

    def accept(self, name: str, metadata: dict) -> str:
        """Check the chosen model against the contract and remember it."""
        self.check(metadata)
        log.info("using model %s at %s", name, self.url)
        self.served_name = name
        return name

    def replicas(self) -> list[str]:
        """The addresses of a listed target (two or more) to ask one by one, else []."""
        replicas = addresses(self.url) or []
        if not replicas:
            log.warning("statistics of %s come from one replica (a dns: target)", self.url)
        return replicas if len(replicas) > 1 else []

    def replica_statistics(self, address: str, name: str) -> dict:
        """One replica's statistics of ``name`` (blocking; one attempt, errors translated)."""
        with TritonServer(address, self.timeout_s, ONE_ATTEMPT) as server:
            return server.statistics(name)


class TritonModel(ModelBase, BlockingLink):
    """One served model that follows the contract (blocking gRPC, thread-safe)."""

    def __init__(
        self,
        url: str | None = None,
        model: str = DEFAULT_MODEL,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy = RetryPolicy(),
        contract: ServingContract = CONTRACT,
        *,
        breaker: Breaker | None = None,
        reresolve_s: float | None = DEFAULT_RERESOLVE_S,
    ) -> None:
        super().__init__(
            url, model, timeout_s, retry, contract, breaker=breaker, reresolve_s=reresolve_s
        )

    def ready_models(self) -> list[str]:
        """The catalogue's served names that are ready (asked one by one, no admin API)."""
        return [n for n in CATALOGUE_NAMES if self._call("is_model_ready", n)]

    def resolve(self) -> str:
        """The served model's name; resolved and checked against the contract on first use."""
        if self.served_name is None:
            if self.asks_server_ready and not self._call("is_server_ready"):
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


class AsyncTritonModel(ModelBase, AsyncLink):
    """The same on ``tritonclient.grpc.aio``: every call awaited, resolution under a lock."""

    def __init__(
        self,
        url: str | None = None,
        model: str = DEFAULT_MODEL,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy = RetryPolicy(),
        contract: ServingContract = CONTRACT,
        *,
        breaker: Breaker | None = None,
        reresolve_s: float | None = DEFAULT_RERESOLVE_S,
    ) -> None:
        super().__init__(
            url, model, timeout_s, retry, contract, breaker=breaker, reresolve_s=reresolve_s
        )
        self._lock = asyncio.Lock()

    async def ready_models(self) -> list[str]:
        return [n for n in CATALOGUE_NAMES if await self._call("is_model_ready", n)]

    async def resolve(self) -> str:
        async with self._lock:
            if self.served_name is None:
                if self.asks_server_ready and not await self._call("is_server_ready"):
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

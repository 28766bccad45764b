"""All of the client's gRPC: the channel, the retry loop, Triton's errors made ours, and the
models on top of them.

:class:`Link` holds what every connection shares, blocking or asyncio: the address, the
request's budget, client.retry's rules (with whether this client ever reached the server) and
the one translation of tritonclient's errors; its settings are declared there once
(:class:`LinkOptions`) and forwarded by every client. :class:`BlockingLink` and
:class:`AsyncLink` add the channel, the calls and the driver of a conversation written once for
both (:data:`Steps`). :class:`TritonServer` asks one server about any model (the doctor, the
benches). A model's link follows a strategy, :class:`ModelChoice`: which served name to use and
which contract to check (``cutout``'s: client.cutout); :class:`TritonModel` (blocking,
thread-safe) and :class:`AsyncTritonModel` (``tritonclient.grpc.aio``) are the two links.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar, Unpack

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
T = TypeVar("T")

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


class LinkOptions(TypedDict, total=False):
    """A link's settings, declared once (:meth:`Link.__init__`); every client forwards them:
    a request's budget in seconds, client.retry's rules, a circuit breaker shared by every link
    to the same servers (None: none), how often a ``dns:`` target gets a new channel."""

    timeout_s: float
    retry: RetryPolicy
    breaker: Breaker | None
    reresolve_s: float | None


@dataclass(frozen=True)
class Call:
    """One remote question: a tritonclient method, its arguments."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


# a conversation with the server written once for both links: each Call is yielded, its
# answer sent back in; the value returned ends it (BlockingLink.run, AsyncLink.run)
Steps = Generator[Call, Any, T]


class Link:
    """What every connection shares; :class:`BlockingLink` and :class:`AsyncLink` hold the
    channels and make the calls."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy = RetryPolicy(),
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

    def run(self, steps: Steps[T]) -> T:
        """A conversation written as :data:`Steps`, each call made as :meth:`_call` makes it."""
        try:
            call = next(steps)
            while True:
                call = steps.send(self._call(call.method, *call.args, **call.kwargs))
        except StopIteration as done:
            return done.value

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

    async def run(self, steps: Steps[T]) -> T:
        """As :meth:`BlockingLink.run`, each call awaited."""
        try:
            call = next(steps)
            while True:
                call = steps.send(await self._call(call.method, *call.args, **call.kwargs))
        except StopIteration as done:
            return done.value

    async def close(self) -> None:
        for client in self.channels.all():
            await client.close()


class TritonServer(BlockingLink):
    """Blocking questions to one Triton server about any model, by name (the doctor's and
    the benches'): no model choice, no contract check."""

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


def server_not_ready(url: str) -> ServerUnavailable:
    return ServerUnavailable(
        f"the Triton server at {url} is up but not ready (models still loading?); try again shortly"
    )


def ready_among(names: Iterable[str]) -> Steps[list[str]]:
    """The ``names`` that are ready, asked one by one (no admin API)."""
    ready = []
    for name in names:
        if (yield Call("is_model_ready", (name,))):
            ready.append(name)
    return ready


class ModelChoice:
    """Which served model a client uses and the contract it checks: the strategy a model's link
    follows (``cutout``'s is client.cutout.CutoutChoice)."""

    asks_server_ready = True  # False: only the model's own readiness counts

    def __init__(self, requested: str, contract: ServingContract) -> None:
        self.requested = requested
        self.contract = contract
        self.served_name: str | None = None  # set once resolved and checked
        self.outputs = [grpcclient.InferRequestedOutput(contract.output_name)]

    def candidates(self) -> list[str]:
        """Served names to try, preferred first."""
        return served_candidates(self.requested)

    def check(self, metadata: dict) -> None:
        """Raise ContractMismatch unless the served model follows the contract (a model the
        catalogue does not know, a custom one, at the size it is served at)."""
        if base_name(self.requested) not in KNOWN_MODELS:
            self.contract = sized_as_served(metadata, self.contract)
        check_metadata(metadata, self.contract)

    def resolution(self, url: str) -> Steps[str]:
        """The served model's name: the first ready candidate, checked against the contract
        and remembered (when none is ready, the error lists the catalogue's ready models)."""
        if self.asks_server_ready and not (yield Call("is_server_ready")):
            raise server_not_ready(url)
        wanted = self.candidates()
        ready = (yield from ready_among(wanted)) or (yield from ready_among(CATALOGUE_NAMES))
        name = resolve_model(wanted, ready)
        self.check((yield Call("get_model_metadata", (name,), {"as_json": True})))
        log.info("using model %s at %s", name, url)
        self.served_name = name
        return name


def replicas_of(url: str) -> list[str]:
    """The addresses of a listed target (two or more) to ask one by one, else []."""
    replicas = addresses(url) or []
    if not replicas:
        log.warning("statistics of %s come from one replica (a dns: target)", url)
    return replicas if len(replicas) > 1 else []


def replica_statistics(address: str, name: str, timeout_s: float) -> dict:
    """One replica's statistics of ``name`` (blocking; one attempt, errors translated)."""
    with TritonServer(address, timeout_s=timeout_s, retry=ONE_ATTEMPT) as server:
        return server.statistics(name)


class ChosenModel:
    """A link to one served model, chosen and checked by its :class:`ModelChoice`; mixed
    before a link (blocking or asyncio), whose ``__init__`` takes the rest."""

    choice: ModelChoice

    def __init__(
        self,
        url: str | None = None,
        model: str = DEFAULT_MODEL,
        contract: ServingContract = CONTRACT,
        *,
        choice: ModelChoice | None = None,
        **link: Unpack[LinkOptions],
    ) -> None:
        super().__init__(url, **link)  # type: ignore[call-arg]
        self.choice = choice or ModelChoice(model, contract)

    @property
    def contract(self) -> ServingContract:
        return self.choice.contract

    @property
    def requested(self) -> str:
        return self.choice.requested

    def served_before(self) -> bool:
        return self.choice.served_name is not None


class TritonModel(ChosenModel, BlockingLink):
    """One served model that follows the contract (blocking gRPC, thread-safe)."""

    def resolve(self) -> str:
        """The served model's name; resolved and checked against the contract on first use."""
        if self.choice.served_name is None:
            self.run(self.choice.resolution(self.url))
        return self.choice.served_name  # type: ignore[return-value]

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """uint8 [n, size, size, 3] -> uint8 masks [n, size, size]."""
        inputs = make_inputs(batch, self.contract)
        result = self._call("infer", self.resolve(), inputs, outputs=self.choice.outputs)
        return result.as_numpy(self.contract.output_name)

    def statistics(self) -> dict:
        """Triton's inference statistics of this model (JSON form), summed over every replica
        of a listed target; a ``dns:`` target's come from whichever replica answers."""
        name = self.resolve()
        replicas = replicas_of(self.url)
        if not replicas:
            return self._call("get_inference_statistics", name, as_json=True)
        parts = [replica_statistics(a, name, self.timeout_s) for a in replicas]
        return merge_statistics(parts, name)


class AsyncTritonModel(ChosenModel, AsyncLink):
    """The same on ``tritonclient.grpc.aio``: every call awaited, resolution under a lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = asyncio.Lock()

    async def resolve(self) -> str:
        async with self._lock:
            if self.choice.served_name is None:
                await self.run(self.choice.resolution(self.url))
            return self.choice.served_name  # type: ignore[return-value]

    async def infer(self, batch: np.ndarray) -> np.ndarray:
        name = await self.resolve()
        inputs = make_inputs(batch, self.contract)
        result = await self._call("infer", name, inputs, outputs=self.choice.outputs)
        return result.as_numpy(self.contract.output_name)

    async def statistics(self) -> dict:
        """As :meth:`TritonModel.statistics`: summed over every replica of a listed target."""
        name = await self.resolve()
        replicas = replicas_of(self.url)
        if not replicas:
            return await self._call("get_inference_statistics", name, as_json=True)
        parts = await asyncio.gather(
            *(asyncio.to_thread(replica_statistics, a, name, self.timeout_s) for a in replicas)
        )
        return merge_statistics(list(parts), name)

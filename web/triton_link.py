"""web's link to Triton: the client's asyncio ``cutout`` model, opened in the serving loop,
its circuit breaker and the watcher that probes for it, and the one place where the client's
errors become web's HTTP errors.

Bad input (``cutout`` says it in one line) -> 400; the server or ``cutout`` not there right
now -> 503; out of time -> 504; any other failure -> 502. Retries and their rules are the
client's (client.retry): a Triton never reached fails within seconds, one that answered
before and went away is waited for, for as long as the breaker's grace (a restart) and the
request's deadline allow. Past the grace the breaker opens (client.breaker): every request is
a 503 with ``Retry-After`` at once, until a probe finds ``cutout`` ready again.

The watcher asks Triton whether ``cutout`` is ready every probe interval, with or without
traffic: an outage is seen (and the breaker opens) even while no request comes, and the
breaker closes within a probe interval of Triton's return.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from client.breaker import Breaker, BreakerPolicy, State
from client.cutout import AsyncCutoutModel, Parameters
from client.errors import (
    BadInput,
    ModelNotReady,
    RemoteError,
    ServerGone,
    ServerUnavailable,
    TimedOut,
)
from client.retry import RetryPolicy
from client.targets import DEFAULT_RERESOLVE_S
from client.triton import gone
from u2net.catalogue import (
    CUSTOM_NAME,
    KNOWN_MODELS,
    REQUEST_NAMES,
    SERVED_NAMES,
    base_name,
    first_ready,
    served_candidates,
)
from u2net.errors import ServingError
from u2net.job import CutResult
from web.errors import (
    BadRequest,
    TritonDown,
    TritonUnavailable,
    UpstreamFailed,
    UpstreamTimeout,
    WebError,
)
from web.timing import timed

logger = logging.getLogger(__name__)


def http_error(e: ServingError, url: str) -> WebError:
    """The client's error as the HTTP error web answers with."""
    reason = e.reason if isinstance(e, RemoteError) else str(e)
    if isinstance(e, BadInput):
        return BadRequest(reason)
    if isinstance(e, ServerGone):
        return down(e, url)
    if isinstance(e, ServerUnavailable | ModelNotReady):
        return TritonUnavailable(f"the inference server at {url} is unavailable: {reason}")
    if isinstance(e, TimedOut):
        return UpstreamTimeout(f"the inference server did not answer within {e.timeout_s:g}s")
    return UpstreamFailed(f"processing failed: {reason}")


def is_loaded(requested: str, loaded: frozenset[str]) -> bool:
    """Does a request for ``requested`` find one of its served names among ``loaded``?"""
    return first_ready(served_candidates(requested), loaded) is not None


def requestable(loaded: frozenset[str]) -> list[str]:
    """The names a request may give for the loaded models: ``u2netp`` and ``u2netp_onnx``
    when ``u2netp_onnx`` is loaded (a custom model's too)."""
    names = {*REQUEST_NAMES, *loaded, *(base_name(name) for name in loaded)}
    return sorted(name for name in names if is_loaded(name, loaded))


def down(e: ServerGone, url: str) -> TritonDown:
    return TritonDown(f"the inference server at {url} is down: {e}", e.retry_after_s)


class TritonLink:
    """``cutout`` on Triton for the app's lifetime (:meth:`open` in its lifespan)."""

    def __init__(
        self,
        url: str,
        timeout_s: float,
        retry: RetryPolicy = RetryPolicy(),
        *,
        breaker: BreakerPolicy = BreakerPolicy(),
        reresolve_s: float = DEFAULT_RERESOLVE_S,
        on_change: Callable[[State], None] = lambda state: None,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.retry = retry
        self.reresolve_s = reresolve_s
        self.breaker = Breaker(breaker, on_change=on_change)
        self.served = False  # cutout was ready once: from then on /readyz stays 200
        self.loaded: frozenset[str] | None = None  # the U²-Net models ready at the last probe
        self.model: AsyncCutoutModel | None = None
        self.watcher: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """grpc.aio's channel belongs to the loop that creates it: the serving loop's."""
        self.model = AsyncCutoutModel(
            self.url, timeout_s=self.timeout_s, retry=self.retry, breaker=self.breaker,
            reresolve_s=self.reresolve_s,
        )  # fmt: skip
        self.watcher = asyncio.create_task(self.watch(), name="triton-watcher")

    async def close(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
            await asyncio.gather(self.watcher, return_exceptions=True)
            self.watcher = None
        if self.model is not None:
            await self.model.close()
            self.model = None

    async def watch(self) -> None:
        """Probe ``cutout`` every probe interval (half-open probes once the breaker is open)."""
        breaker = self.breaker
        while True:
            await asyncio.sleep(breaker.next_probe_s())
            if breaker.allow():
                ready = await self.not_ready_reason() is None
                breaker.succeeded() if ready else breaker.failed()
                if ready:
                    await self.learn_loaded()

    async def learn_loaded(self) -> None:
        """Which U²-Net models the server has loaded, as the probe that found ``cutout``
        ready sees them (kept through an outage: a restart serves the same ones)."""
        try:
            self.loaded = frozenset(await self._model().ready_among(SERVED_NAMES))
        except ServingError as e:  # gone again between the two questions: the next probe
            logger.info("could not list the loaded models: %s", e)

    async def learn_custom(self, requested: str) -> None:
        """A name outside the catalogue may be a custom model (``python -m convert custom``):
        Triton is asked once whether it has it ready, and a ready one counts as loaded from
        then on (until the next probe lists the catalogue's again)."""
        loaded, base = self.loaded, base_name(requested)
        if loaded is None or base in KNOWN_MODELS or not CUSTOM_NAME.fullmatch(base):
            return
        if is_loaded(requested, loaded):
            return
        try:
            ready = await self._model().ready_among(served_candidates(requested))
        except ServingError as e:  # refused below as not loaded; a later request asks again
            logger.info("could not ask whether %s is loaded: %s", requested, e)
            return
        self.loaded = loaded | frozenset(ready)

    def refuse_if_not_loaded(self, requested: str, field: str = "model") -> None:
        """BadRequest at once for a model the server has not loaded (while it answers):
        otherwise ``cutout`` says "not loaded", which reads as a restart and is retried
        until the deadline, and would count towards the breaker. A name outside the catalogue
        too: ``cutout``'s answer would list every catalogued name, loaded or not. ``field``: the
        request's field that named it."""
        loaded = self.loaded
        if loaded is None or self.breaker.outage_s() or is_loaded(requested, loaded):
            return
        shown = ", ".join(requestable(loaded)) or "none"
        raise BadRequest(
            f"{field}: expected one this server has loaded ({shown}), got {requested!r}"
        )

    def refuse_if_down(self) -> None:
        """TritonDown while the breaker is open or half-open: the watcher alone probes here,
        so a request never waits on a probe, nor does a request that fails (a channel still
        reconnecting) put the next probe off."""
        if self.breaker.is_open():
            raise down(gone(self.url, self.breaker), self.url)

    def state(self) -> dict[str, str | float | list[str]]:
        """What ``/readyz`` says about Triton: its address, the breaker, any outage and the
        U²-Net models it has loaded (once a probe has seen them)."""
        about: dict[str, str | float | list[str]] = {
            "url": self.url,
            "breaker": self.breaker.state.value,
        }
        if self.breaker.outage_s():
            about["failing_for_s"] = round(self.breaker.outage_s(), 1)
        if self.loaded is not None:
            about["models"] = sorted(self.loaded)
        return about

    def _model(self) -> AsyncCutoutModel:
        if self.model is None:
            raise RuntimeError("TritonLink used before open()")
        return self.model

    async def cut(
        self, data: bytes, parameters: Parameters, background: bytes | None = None
    ) -> CutResult:
        """One encoded image and ``cutout``'s parameters -> the encoded result."""
        try:
            with timed("cutout"):
                result = await self._model().cut_bytes(data, parameters, background)
        except ServingError as e:  # the client's: Triton's answers and the contract check
            raise http_error(e, self.url) from e
        self.served = True
        return result

    async def not_ready_reason(self) -> str | None:
        """None when ``cutout`` is ready, else why not (one line); ``cutout`` alone is asked."""
        model = self._model()
        try:
            if await model.is_ready():
                self.served = True
                return None
        except ServingError as e:
            return str(http_error(e, self.url))
        return f"model {model.cutout.name} is not ready on {self.url}"

    async def readiness(self) -> tuple[bool, dict]:
        """``/readyz``: not ready until ``cutout`` was ready once; after that ready, with the
        breaker's state, even while Triton is down (docs/resilience.md says why)."""
        if not self.served:
            reason = await self.not_ready_reason()
            if reason is not None:
                return False, {"status": "not ready", "detail": reason, "triton": self.state()}
        return True, {"status": "ready", "triton": self.state()}

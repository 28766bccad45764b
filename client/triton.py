"""All of the client's gRPC: connect, pick the served model, check its contract, infer.

Errors from tritonclient are translated here, once, into the project's exception tree.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from client.contract import CONTRACT, ServingContract, check_metadata
from client.errors import InferenceFailed, ModelNotReady, ServerUnavailable

log = logging.getLogger(__name__)

URL_ENV = "U2NET_TRITON_URL"
DEFAULT_URL = "localhost:8001"
DEFAULT_MODEL = "u2net"
DEFAULT_TIMEOUT_S = 60.0
START_HINT = "start one with `python -m server` (or `docker compose up` on a GPU host)"
UNAVAILABLE = "StatusCode.UNAVAILABLE"
DEADLINE = "StatusCode.DEADLINE_EXCEEDED"


def default_url() -> str:
    return os.environ.get(URL_ENV) or DEFAULT_URL


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of UNAVAILABLE with bounded exponential backoff."""

    attempts: int = 4
    first_delay_s: float = 0.2
    max_delay_s: float = 2.0

    def delays(self) -> Iterator[float]:
        delay = self.first_delay_s
        for _ in range(self.attempts - 1):
            yield delay
            delay = min(delay * 2, self.max_delay_s)


def resolve_model(requested: str, ready: list[str]) -> str:
    """``u2net`` -> ``u2net_trt`` if ready, else ``u2net_onnx``; served names pass as they are."""
    candidates = [f"{requested}_trt", f"{requested}_onnx"] if "_" not in requested else []
    for name in [*candidates, requested]:
        if name in ready:
            return name
    shown = ", ".join(sorted(ready)) or "none"
    wanted = " or ".join(candidates) if candidates else requested
    raise ModelNotReady(f"model {wanted} is not ready on the server; ready models: {shown}")


def translate(e: InferenceServerException, url: str, timeout_s: float | None) -> Exception:
    """One place that turns tritonclient's errors into ours."""
    status = e.status()
    if status == UNAVAILABLE:
        return ServerUnavailable(f"no Triton server answering at {url}: {START_HINT}")
    if status == DEADLINE:
        return InferenceFailed(f"timed out after {timeout_s:g}s (raise --timeout)")
    return InferenceFailed(str(e.message() or e).splitlines()[0])


def ready_models_from_stats(stats: dict) -> list[str]:
    return sorted({s["name"] for s in stats.get("model_stats", [])})


def make_inputs(batch: np.ndarray, contract: ServingContract = CONTRACT) -> list:
    inp = grpcclient.InferInput(contract.input_name, list(batch.shape), contract.input_dtype)
    inp.set_data_from_numpy(np.ascontiguousarray(batch, dtype=contract.input_np_dtype))
    return [inp]


class TritonModel:
    """One served model that follows the contract (blocking gRPC, thread-safe)."""

    def __init__(
        self,
        url: str | None = None,
        model: str = DEFAULT_MODEL,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy = RetryPolicy(),
        contract: ServingContract = CONTRACT,
    ) -> None:
        self.url = url or default_url()
        self.requested = model
        self.timeout_s = timeout_s
        self.retry = retry
        self.contract = contract
        self.client = grpcclient.InferenceServerClient(self.url)
        self._name: str | None = None
        self._outputs = [grpcclient.InferRequestedOutput(contract.output_name)]

    def _call(self, method: str, *args: object, **kwargs: object) -> object:
        try:
            return getattr(self.client, method)(*args, client_timeout=self.timeout_s, **kwargs)
        except InferenceServerException as e:
            raise translate(e, self.url, self.timeout_s) from e

    def ready_models(self) -> list[str]:
        return ready_models_from_stats(self._call("get_inference_statistics", as_json=True))

    @property
    def name(self) -> str:
        """The served model's name; resolved and checked against the contract on first use."""
        if self._name is None:
            self._call("is_server_live")
            name = resolve_model(self.requested, self.ready_models())
            check_metadata(self._call("get_model_metadata", name, as_json=True), self.contract)
            log.info("using model %s at %s", name, self.url)
            self._name = name
        return self._name

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """uint8 [n, 320, 320, 3] -> uint8 masks [n, 320, 320]."""
        name = self.name
        delays = self.retry.delays()
        while True:
            try:
                result = self.client.infer(
                    name,
                    make_inputs(batch, self.contract),
                    outputs=self._outputs,
                    client_timeout=self.timeout_s,
                )
                return result.as_numpy(self.contract.output_name)
            except InferenceServerException as e:
                delay = next(delays, None) if e.status() == UNAVAILABLE else None
                if delay is None:
                    raise translate(e, self.url, self.timeout_s) from e
                log.debug("server unavailable, retrying in %.1fs", delay)
                time.sleep(delay)

    def statistics(self) -> dict:
        return self._call("get_inference_statistics", self.name, as_json=True)

    def close(self) -> None:
        self.client.close()

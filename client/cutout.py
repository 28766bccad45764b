"""The ``cutout`` model: send an image's bytes, get the finished result back; Triton does the
decoding, resizing, composing and encoding. :class:`CutoutModel` (blocking) serves
``python -m client cut --server-side``, :class:`AsyncCutoutModel` (asyncio) the web gateway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import tritonclient.grpc as grpcclient

from client.breaker import Breaker
from client.retry import RetryPolicy
from client.targets import DEFAULT_RERESOLVE_S
from client.triton import (
    DEFAULT_TIMEOUT_S,
    AsyncTritonModel,
    LinkOptions,
    ModelChoice,
    TritonModel,
)
from u2net.catalogue import DEFAULT_MODEL
from u2net.contract import CUTOUT, CutoutContract, check_cutout_metadata
from u2net.image.io import DEFAULT_MAX_PIXELS, read_photo
from u2net.job import CutResult
from u2net.options import MAX_PIXELS, OutputOptions, to_parameters

READY_TIMEOUT_S = 2.0
PROBE_RETRY = RetryPolicy(first_delay_s=0.1, max_delay_s=0.2, jitter=False)
Parameters = Mapping[str, bool | int | str]


class CutoutChoice(ModelChoice):
    """``cutout``'s strategy: its one name, its own contract, its request and its result.

    Only ``cutout``'s own readiness counts: with strict readiness a server says "not ready"
    while any model failed to load (a TensorRT plan, say) even though ``cutout`` serves.
    """

    asks_server_ready = False

    def __init__(self, contract: CutoutContract = CUTOUT) -> None:
        self.requested = contract.name
        self.cutout = contract
        self.served_name: str | None = None
        self.outputs = [
            grpcclient.InferRequestedOutput(name)
            for name in (contract.output_name, contract.size_name, contract.box_name)
        ]

    def candidates(self) -> list[str]:
        return [self.cutout.name]

    def check(self, metadata: dict) -> None:
        check_cutout_metadata(metadata, self.cutout)

    def request(self, data: bytes, background: bytes | None = None) -> list[grpcclient.InferInput]:
        """The image's tensor, and the background photo's when there is one."""
        named = {self.cutout.input_name: data, self.cutout.background_name: background}
        tensors = []
        for name, value in named.items():
            if value:
                tensor = grpcclient.InferInput(name, [1], self.cutout.bytes_dtype)
                tensor.set_data_from_numpy(np.array([value], dtype=np.object_))
                tensors.append(tensor)
        return tensors

    def result(self, answer: Any) -> CutResult:
        width, height = (int(v) for v in answer.as_numpy(self.cutout.size_name))
        left, top, box_w, box_h = (int(v) for v in answer.as_numpy(self.cutout.box_name))
        data = answer.as_numpy(self.cutout.output_name).reshape(-1)[0]
        return CutResult(bytes(data), (width, height), (left, top, box_w, box_h))


class CutoutModel(TritonModel):
    """The served ``cutout`` model (same connection, retry and error handling as the rest)."""

    choice: CutoutChoice

    def __init__(
        self, url: str | None = None, contract: CutoutContract = CUTOUT, **link: Unpack[LinkOptions]
    ) -> None:
        super().__init__(url, contract.name, choice=CutoutChoice(contract), **link)

    def cut_bytes(
        self, data: bytes, parameters: Parameters, background: bytes | None = None
    ) -> CutResult:
        """One encoded image (and a background photo) -> the finished, encoded result (with
        its size and box)."""
        answer = self._call(
            "infer",
            self.resolve(),
            self.choice.request(data, background),
            outputs=self.choice.outputs,
            parameters=dict(parameters),
        )
        return self.choice.result(answer)


class AsyncCutoutModel(AsyncTritonModel):
    """The asyncio twin of :class:`CutoutModel`; create it in the loop that uses it."""

    choice: CutoutChoice

    def __init__(
        self, url: str | None = None, contract: CutoutContract = CUTOUT, **link: Unpack[LinkOptions]
    ) -> None:
        super().__init__(url, contract.name, choice=CutoutChoice(contract), **link)

    async def cut_bytes(
        self, data: bytes, parameters: Parameters, background: bytes | None = None
    ) -> CutResult:
        answer = await self._call(
            "infer",
            await self.resolve(),
            self.choice.request(data, background),
            outputs=self.choice.outputs,
            parameters=dict(parameters),
        )
        return self.choice.result(answer)

    async def is_ready(self, timeout_s: float = READY_TIMEOUT_S) -> bool:
        """Is ``cutout`` ready? Retried briefly within ``timeout_s`` (a channel reconnecting
        to a server just back answers UNAVAILABLE for up to a second); no answer raises the
        error. Outside the breaker: this is how a watcher probes (and reports to it itself)."""
        attempts = self.attempts(timeout_s, PROBE_RETRY)
        name = self.choice.cutout.name
        return bool(await self._call("is_model_ready", name, attempts=attempts, gated=False))

    async def ready_among(
        self, names: Iterable[str], timeout_s: float = READY_TIMEOUT_S
    ) -> list[str]:
        """The ``names`` that are ready (the U²-Net models ``cutout`` may call), asked like
        :meth:`is_ready`."""
        attempts = self.attempts(timeout_s, PROBE_RETRY)
        return [
            name
            for name in names
            if await self._call("is_model_ready", name, attempts=attempts, gated=False)
        ]


class ServerSideCutter:
    """Cuts files through ``cutout``: the same interface as :class:`client.Cutter`'s files."""

    def __init__(
        self,
        url: str | None = None,
        model: str = DEFAULT_MODEL,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        concurrency: int = 2,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        retry: RetryPolicy = RetryPolicy(),
        breaker: Breaker | None = None,
        reresolve_s: float | None = DEFAULT_RERESOLVE_S,
    ) -> None:
        link: LinkOptions = {  # one breaker for both: one server
            "timeout_s": timeout_s, "retry": retry, "breaker": breaker, "reresolve_s": reresolve_s,
        }  # fmt: skip
        self.cutout = CutoutModel(url, **link)
        self.inner = TritonModel(url, model, **link)
        self.concurrency = concurrency
        self.max_pixels = max_pixels

    def connect(self) -> str:
        """Check that ``cutout`` and the model it should use are both ready."""
        self.cutout.resolve()
        return self.inner.resolve()

    def cut_file(self, path: Path, options: OutputOptions) -> bytes:
        data = read_photo(path)
        model = self.inner.resolve()
        parameters = {**to_parameters(options, model), MAX_PIXELS: self.max_pixels}
        return self.cutout.cut_bytes(data, parameters, options.bg_image).data

    def close(self) -> None:
        self.cutout.close()
        self.inner.close()

    def __enter__(self) -> ServerSideCutter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

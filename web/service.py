"""What every route shares: admission, and one cut through ``cutout``."""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager

from u2net.job import CutResult
from u2net.options import MAX_PIXELS, OutputOptions, to_parameters
from web.capacity import Admission, Capacity
from web.config import WebConfig
from web.errors import BadRequest
from web.metrics import Metrics
from web.triton_link import TritonLink

log = logging.getLogger(__name__)


class CutService:
    def __init__(self, config: WebConfig, triton: TritonLink, metrics: Metrics) -> None:
        self.config = config
        self.triton = triton
        self.metrics = metrics
        self.capacity = Capacity(
            config.concurrency, config.queue, config.retry_after_s, metrics.capacity_changed
        )

    def admit(self) -> AbstractAsyncContextManager[Admission]:
        """A slot for a new request; while Triton is down (the breaker open), a 503 at once,
        before its body is read."""
        self.triton.refuse_if_down()
        return self.capacity.admit()

    def parameters(self, model: str, options: OutputOptions) -> dict[str, bool | int | str]:
        """``cutout``'s request parameters, as ``python -m client cut --server-side`` sends them."""
        return {**to_parameters(options, model), MAX_PIXELS: self.config.max_pixels}

    async def cut(
        self, admission: Admission, data: bytes, model: str, options: OutputOptions
    ) -> CutResult:
        if not data:
            raise BadRequest("empty file: expected an image, got 0 bytes")
        self.triton.refuse_if_not_loaded(model)
        async with admission.running():
            parameters = self.parameters(model, options)
            return await self.triton.cut(data, parameters, options.bg_image)

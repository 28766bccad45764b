"""What every route shares: admission, and one cut through ``cutout``."""

from __future__ import annotations

import logging
import math
from contextlib import AbstractAsyncContextManager

from u2net.errors import InvalidImage
from u2net.image.io import header_size
from u2net.job import CutResult
from u2net.memory import MB, Sizes, decode_bytes, largest_photo, peak_bytes
from u2net.options import MAX_PIXELS, OutputOptions, to_parameters
from web.capacity import Admission, Budget, Capacity
from web.config import WebConfig
from web.errors import BadRequest, OverBudget
from web.metrics import Metrics
from web.triton_link import TritonLink

log = logging.getLogger(__name__)


class CutService:
    def __init__(self, config: WebConfig, triton: TritonLink, metrics: Metrics) -> None:
        self.config = config
        self.triton = triton
        self.metrics = metrics
        self.capacity = Capacity(
            config.concurrency,
            config.queue,
            config.retry_after_s,
            metrics.capacity_changed,
            budget=Budget(config.memory_budget_bytes, metrics.memory_changed),
            wait_s=config.timeout_s,
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
        await self.triton.learn_custom(model)
        self.triton.refuse_if_not_loaded(model)
        async with admission.running(self.weight(data, options)):
            parameters = self.parameters(model, options)
            return await self.triton.cut(data, parameters, options.bg_image)

    def weight(self, data: bytes, options: OutputOptions) -> int:
        """The bytes this cut will hold in Triton at its peak (u2net.memory), from the
        images' headers; OverBudget when that is more than the whole memory budget."""
        photo = self._size(data, "")
        background = (
            self._size(options.bg_image, "background image: ") if options.bg_image else None
        )
        sizes = Sizes(math.prod(photo), math.prod(background) if background else 0)
        weight = peak_bytes(sizes, options)
        if not self.capacity.budget.fits(weight):
            raise OverBudget(self._too_large(photo, sizes, options))
        return weight

    def decode_weight(self, data: bytes) -> int:
        """The bytes decoding this photo holds at its peak (u2net.memory), from its header."""
        return decode_bytes(math.prod(self._size(data, "")))

    def _size(self, data: bytes, label: str) -> tuple[int, int]:
        try:
            return header_size(data, self.config.max_pixels)
        except InvalidImage as e:
            raise BadRequest(f"{label}{e}") from e

    def _too_large(self, photo: tuple[int, int], sizes: Sizes, options: OutputOptions) -> str:
        budget = self.capacity.budget.total
        largest = largest_photo(budget, options, sizes.background)
        width, height = photo
        got = f"got {width}x{height}"
        if largest == 0:
            return (
                f"image too large: with this background photo ({sizes.background:,} pixels) no"
                f" photo fits the server's {budget / MB:.0f} MB memory budget, {got}; send a"
                " smaller background"
            )
        shrink = math.sqrt(largest / sizes.photo)
        fits = f"{math.floor(width * shrink)}x{math.floor(height * shrink)}"
        return (
            f"image too large for these options: expected at most {largest:,} pixels"
            f" ({fits} at this aspect), {got} = {sizes.photo:,}; send it smaller"
        )

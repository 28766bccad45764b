"""The public Python API: ``Cutter`` (threads) and ``AsyncCutter`` (asyncio)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator

import numpy as np
from PIL import Image

from client.contract import CONTRACT, ServingContract, check_metadata
from client.imaging import (
    DEFAULT_MAX_PIXELS,
    ImageSource,
    OutputOptions,
    open_rgb,
    render,
    to_model_input,
)
from client.pipeline import map_ordered
from client.triton import (
    DEFAULT_MODEL,
    DEFAULT_TIMEOUT_S,
    RetryPolicy,
    TritonModel,
    default_url,
    make_inputs,
    ready_models_from_stats,
    resolve_model,
    translate,
)

DEFAULT_CONCURRENCY = 2


class Cutter:
    """Cut subjects out of photos through a Triton server.

    >>> with Cutter("localhost:8001") as cutter:          # doctest: +SKIP
    ...     cutter.cut("photo.jpg").save("photo.out.png")
    """

    def __init__(
        self,
        url: str | None = None,
        model: str = DEFAULT_MODEL,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        retry: RetryPolicy = RetryPolicy(),
        options: OutputOptions = OutputOptions(),
        contract: ServingContract = CONTRACT,
    ) -> None:
        self.model = TritonModel(url, model, timeout_s, retry, contract)
        self.concurrency = concurrency
        self.max_pixels = max_pixels
        self.options = options
        self.contract = contract

    @property
    def model_name(self) -> str:
        """The served model in use (checked against the contract on first use)."""
        return self.model.name

    def mask_320(self, rgb: Image.Image) -> np.ndarray:
        return self.model.infer(to_model_input(rgb, self.contract)[None])[0]

    def cut(self, image: ImageSource, options: OutputOptions | None = None) -> Image.Image:
        """One photo (path, bytes or PIL image) -> cut-out (RGBA), mask (L) or composite."""
        rgb = open_rgb(image, self.max_pixels)
        return render(rgb, self.mask_320(rgb), options or self.options)

    def cut_many(
        self,
        images: Iterable[ImageSource],
        options: OutputOptions | None = None,
        return_exceptions: bool = False,
    ) -> Iterator[Image.Image | Exception]:
        """Cut many photos, ``concurrency`` requests in flight; results in input order."""
        self.model_name  # noqa: B018 - fail fast on a bad server/model, before any work
        return map_ordered(
            lambda image: self.cut(image, options), images, self.concurrency, return_exceptions
        )

    def close(self) -> None:
        self.model.close()

    def __enter__(self) -> Cutter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncCutter:
    """The asyncio variant, on ``tritonclient.grpc.aio``; image work runs in threads."""

    def __init__(
        self,
        url: str | None = None,
        model: str = DEFAULT_MODEL,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        options: OutputOptions = OutputOptions(),
        contract: ServingContract = CONTRACT,
    ) -> None:
        import tritonclient.grpc.aio as aioclient

        self.url = url or default_url()
        self.requested = model
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self.max_pixels = max_pixels
        self.options = options
        self.contract = contract
        self.client = aioclient.InferenceServerClient(self.url)
        self._name: str | None = None
        self._lock = asyncio.Lock()

    async def _call(self, method: str, *args: object, **kwargs: object) -> object:
        from tritonclient.utils import InferenceServerException

        try:
            return await getattr(self.client, method)(
                *args, client_timeout=self.timeout_s, **kwargs
            )
        except InferenceServerException as e:
            raise translate(e, self.url, self.timeout_s) from e

    async def model_name(self) -> str:
        async with self._lock:
            if self._name is None:
                stats = await self._call("get_inference_statistics", as_json=True)
                name = resolve_model(self.requested, ready_models_from_stats(stats))
                meta = await self._call("get_model_metadata", name, as_json=True)
                check_metadata(meta, self.contract)
                self._name = name
            return self._name

    async def mask_320(self, rgb: Image.Image) -> np.ndarray:
        name = await self.model_name()
        batch = (await asyncio.to_thread(to_model_input, rgb, self.contract))[None]
        result = await self._call("infer", name, make_inputs(batch, self.contract))
        return result.as_numpy(self.contract.output_name)[0]

    async def cut(self, image: ImageSource, options: OutputOptions | None = None) -> Image.Image:
        rgb = await asyncio.to_thread(open_rgb, image, self.max_pixels)
        mask = await self.mask_320(rgb)
        return await asyncio.to_thread(render, rgb, mask, options or self.options)

    async def cut_many(
        self,
        images: Iterable[ImageSource],
        options: OutputOptions | None = None,
        return_exceptions: bool = False,
    ) -> AsyncIterator[Image.Image | BaseException]:
        """Results in input order with at most ``concurrency`` photos in flight."""
        await self.model_name()
        limit = asyncio.Semaphore(self.concurrency)

        async def one(image: ImageSource) -> Image.Image:
            async with limit:
                return await self.cut(image, options)

        tasks: list[asyncio.Task[Image.Image]] = []
        try:
            for image in images:
                tasks.append(asyncio.create_task(one(image)))
            for task in tasks:
                try:
                    yield await task
                except Exception as e:
                    if not return_exceptions:
                        raise
                    yield e
        finally:
            for task in tasks:
                task.cancel()

    async def close(self) -> None:
        await self.client.close()

    async def __aenter__(self) -> AsyncCutter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

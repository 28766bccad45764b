"""The public Python API: ``Cutter`` (threads) and ``AsyncCutter`` (asyncio)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Unpack

import numpy as np
from PIL import Image

from client.pipeline import map_ordered
from client.triton import AsyncTritonModel, LinkOptions, TritonModel
from u2net.catalogue import DEFAULT_MODEL, contract_of
from u2net.contract import ServingContract
from u2net.image.io import DEFAULT_MAX_PIXELS, ImageSource, encode, open_rgb
from u2net.image.render import render, to_model_input
from u2net.options import OutputOptions

DEFAULT_CONCURRENCY = 2


class CutterBase:
    """What both cutters hold: the served model's link, the requests in flight, the pixel
    limit and the default options."""

    link_class: type[TritonModel] | type[AsyncTritonModel]

    def __init__(
        self,
        url: str | None = None,
        model: str = DEFAULT_MODEL,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        options: OutputOptions = OutputOptions(),
        contract: ServingContract | None = None,  # None: the model's (u2net.catalogue)
        **link: Unpack[LinkOptions],
    ) -> None:
        self.model = self.link_class(url, model, contract or contract_of(model), **link)
        self.concurrency = concurrency
        self.max_pixels = max_pixels
        self.options = options

    @property
    def contract(self) -> ServingContract:
        """The served model's contract (its size known once it is resolved)."""
        return self.model.contract


class Cutter(CutterBase):
    """Cut subjects out of photos through a Triton server.

    >>> with Cutter("localhost:8001") as cutter:          # doctest: +SKIP
    ...     cutter.cut("photo.jpg").save("photo.out.png")
    """

    link_class = TritonModel

    def connect(self) -> str:
        """Reach the server, pick the served model and check its contract; returns its name.

        Called on first use anyway; call it early to fail fast on a bad server or model.
        """
        return self.model.resolve()

    def mask_320(self, rgb: Image.Image) -> np.ndarray:
        self.model.resolve()  # the served model's size, before the photo is resized to it
        return self.model.infer(to_model_input(rgb, self.contract)[None])[0]

    def masked(self, image: ImageSource) -> tuple[Image.Image, np.ndarray]:
        """One photo -> its upright RGB picture and its model-sized mask (what :meth:`cut`
        renders; ``frames --smooth`` smooths the masks in between)."""
        rgb = open_rgb(image, self.max_pixels)
        return rgb, self.mask_320(rgb)

    def cut(self, image: ImageSource, options: OutputOptions | None = None) -> Image.Image:
        """One photo (path, bytes or PIL image) -> cut-out (RGBA), mask (L) or composite."""
        return render(*self.masked(image), options or self.options)

    def cut_file(self, path: Path, options: OutputOptions) -> bytes:
        """One file -> the encoded result (what ``python -m client cut`` writes)."""
        return encode(self.cut(path, options), options)

    def cut_many(
        self,
        images: Iterable[ImageSource],
        options: OutputOptions | None = None,
        return_exceptions: bool = False,
    ) -> Iterator[Image.Image | Exception]:
        """Cut many photos, ``concurrency`` requests in flight; results in input order."""
        self.connect()  # fail fast on a bad server or model, before any work
        return map_ordered(
            lambda image: self.cut(image, options), images, self.concurrency, return_exceptions
        )

    def close(self) -> None:
        self.model.close()

    def __enter__(self) -> Cutter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncCutter(CutterBase):
    """The asyncio variant, on ``tritonclient.grpc.aio``; image work runs in threads."""

    link_class = AsyncTritonModel

    async def connect(self) -> str:
        """Reach the server, pick the served model and check its contract; returns its name."""
        return await self.model.resolve()

    async def mask_320(self, rgb: Image.Image) -> np.ndarray:
        await self.model.resolve()  # the served model's size, before the photo is resized
        batch = (await asyncio.to_thread(to_model_input, rgb, self.contract))[None]
        return (await self.model.infer(batch))[0]

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
        await self.connect()
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
        await self.model.close()

    async def __aenter__(self) -> AsyncCutter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

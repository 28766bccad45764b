"""Cut a stream of raw video frames (rembg ``b``): frames in, one result per frame out, in
order, with ``concurrency`` frames in flight so Triton's dynamic batcher has work to batch.

Each frame is one job on ``concurrency`` threads: the network's part, the mask smoothed
with the previous frames' (``--smooth``; that step taken in frame order,
:class:`client.pipeline.InTurn`), then rendering and encoding. At most ``2 * concurrency``
frames are held (:func:`client.pipeline.map_ordered`), however long the stream. A frame
that fails stops the stream after the frames before it are written; so does a short last
frame, after every complete frame is written.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
from PIL import Image

from client.errors import FrameFailed
from client.jobs import write_output
from client.pipeline import InTurn, map_ordered
from client.rawvideo import FrameReader, frame_name, raw_frame
from client.smoothing import MaskSmoother
from u2net.errors import ServingError
from u2net.image.io import encode
from u2net.image.render import render
from u2net.options import OutputOptions

log = logging.getLogger(__name__)


class FrameCutter(Protocol):
    """What the stream needs of :class:`client.Cutter`."""

    concurrency: int

    def connect(self) -> str: ...

    def masked(self, image: Image.Image) -> tuple[Image.Image, np.ndarray]: ...


class Sink(Protocol):
    def write(self, index: int, data: bytes) -> None: ...


@dataclass(frozen=True)
class PatternSink:
    """One file per frame, named by a printf-style pattern (rembg ``b -o``); atomic writes."""

    pattern: str

    def write(self, index: int, data: bytes) -> None:
        write_output(Path(frame_name(self.pattern, index)), data)


@dataclass(frozen=True)
class StreamSink:
    """Every frame's bytes one after the other on a stream (concatenated PNGs, or raw
    frames), flushed per frame so that the next program gets each as soon as it is done."""

    stream: BinaryIO

    def write(self, index: int, data: bytes) -> None:
        self.stream.write(data)
        self.stream.flush()


@dataclass
class StreamSummary:
    frames: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        rate = self.frames / self.seconds if self.seconds > 0 else 0.0
        return f"done {self.frames} frames in {self.seconds:.1f}s ({rate:.2f} frames/s)"


def cut_stream(
    cutter: FrameCutter,
    reader: FrameReader,
    sink: Sink,
    options: OutputOptions,
    *,
    raw: bool = False,
    smooth: int = 1,
) -> StreamSummary:
    """Cut every frame of ``reader`` into ``sink``, in order, ``cutter.concurrency`` at a
    time; with ``smooth`` > 1 each mask is averaged with the previous ones, in frame order.
    Raises FrameFailed for a frame that cannot be cut and IncompleteFrame for a short last
    frame, each after the frames before it are written."""
    summary = StreamSummary()
    start = time.perf_counter()
    cutter.connect()  # a dead server or unknown model stops the stream before any frame
    smoother, in_turn = MaskSmoother(smooth), InTurn()

    def job(item: tuple[int, Image.Image]) -> bytes:
        index, frame = item
        try:
            rgb, mask = cutter.masked(frame)
        except BaseException:
            in_turn.skip(index)
            raise
        image = render(rgb, in_turn.take(index, smoother.push, mask), options)
        return raw_frame(image) if raw else encode(image, options)

    results = map_ordered(job, enumerate(reader), cutter.concurrency)
    with contextlib.closing(results):
        try:
            for data in results:
                sink.write(summary.frames, data)
                summary.frames += 1
                log.debug("frame %d written", summary.frames - 1)
        except ServingError as e:
            raise FrameFailed(f"frame {summary.frames}: {e}") from e
    summary.seconds = time.perf_counter() - start
    reader.check_complete()
    return summary

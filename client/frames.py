"""Cut a stream of raw video frames (rembg ``b``): frames in, one result per frame out, in
order, with ``concurrency`` frames in flight so Triton's dynamic batcher has work to batch.

Two stages of ``concurrency`` threads each (the network's part, then rendering and
encoding), with the masks smoothed in frame order between them (``--smooth``); each stage
holds at most ``2 * concurrency`` frames (:func:`client.pipeline.map_ordered`), however long
the stream. A frame that fails stops the stream after the frames before it are written; so
does a short last frame, after every complete frame is written.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar

import numpy as np
from PIL import Image

from client.errors import FrameFailed
from client.jobs import write_output
from client.pipeline import map_ordered
from u2net.errors import ServingError
from u2net.imaging import encode, render
from u2net.options import OutputOptions
from u2net.rawvideo import FrameReader, frame_name, raw_frame
from u2net.smoothing import MaskSmoother

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


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


Masked = tuple[Image.Image, np.ndarray]  # a frame and its model-sized mask


def _passed_on(fn: Callable[[T], R]) -> Callable[[T | Exception], R | Exception]:
    """``fn`` for a stage of the stream: an earlier stage's failure goes on as it is, so it
    surfaces in the frame's own place, after the frames before it."""

    def stage(item: T | Exception) -> R | Exception:
        return item if isinstance(item, Exception) else fn(item)

    return stage


def cut_stream(
    cutter: FrameCutter,
    reader: FrameReader,
    sink: Sink,
    options: OutputOptions,
    *,
    raw: bool = False,
    smooth: int = 1,
) -> StreamSummary:
    """Cut every frame of ``reader`` into ``sink``, in order: the network's part and the
    rendering each on ``cutter.concurrency`` threads, the masks smoothed over ``smooth``
    frames in between, in frame order. Raises FrameFailed for a frame that cannot be cut
    and IncompleteFrame for a short last frame, each after the frames before it are
    written."""
    summary = StreamSummary()
    start = time.perf_counter()
    cutter.connect()  # a dead server or unknown model stops the stream before any frame
    smoother = MaskSmoother(smooth)

    def smoothed(item: Masked) -> Masked:
        rgb, mask = item
        return rgb, smoother.push(mask)

    def finished(item: Masked) -> bytes:
        image = render(*item, options)
        return raw_frame(image) if raw else encode(image, options)

    workers = cutter.concurrency
    masked = map_ordered(cutter.masked, reader, workers, return_exceptions=True)
    ordered = map(_passed_on(smoothed), masked)  # in frame order, on this thread
    results = map_ordered(_passed_on(finished), ordered, workers, return_exceptions=True)
    with contextlib.closing(masked), contextlib.closing(results):
        for data in results:
            if isinstance(data, ServingError):
                raise FrameFailed(f"frame {summary.frames}: {data}") from data
            if isinstance(data, Exception):
                raise data
            sink.write(summary.frames, data)
            summary.frames += 1
            log.debug("frame %d written", summary.frames - 1)
    summary.seconds = time.perf_counter() - start
    reader.check_complete()
    return summary

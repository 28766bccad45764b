"""Raw video frames, read and written in one place: rembg ``b``'s input (packed RGB24, what
``ffmpeg -f rawvideo -pix_fmt rgb24`` writes), the raw output of ``frames --raw`` (packed
RGBA, or grey for masks) and the printf-style names of one file per frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from PIL import Image

from u2net.errors import IncompleteFrame, OptionError

INPUT_MODE = "RGB"  # ffmpeg's rgb24: 3 bytes a pixel, rows top to bottom, no padding
INPUT_PIX_FMT = "rgb24"
# what --raw writes for each picture mode, with ffmpeg's name for it (its -pix_fmt)
RAW_MODES = {"RGBA": "rgba", "L": "gray"}


def frame_bytes(width: int, height: int, mode: str = INPUT_MODE) -> int:
    """Bytes in one packed frame of ``mode``."""
    return width * height * Image.getmodebands(mode)


class FrameReader:
    """Complete RGB24 frames from a binary stream, as pictures, until the stream ends.

    A short last frame ends the iteration quietly, so that every complete frame before it
    can still be finished; :meth:`check_complete` then raises :class:`IncompleteFrame`.
    """

    def __init__(self, stream: BinaryIO, width: int, height: int) -> None:
        self.stream = stream
        self.size = (width, height)
        self.frame_size = frame_bytes(width, height)
        self.count = 0  # complete frames read
        self.leftover = 0  # bytes of a short last frame

    def _read_frame(self) -> bytes:
        """Up to one frame's bytes (fewer only at the end of the stream)."""
        chunks, missing = [], self.frame_size
        while missing:
            chunk = self.stream.read(missing)
            if not chunk:
                break
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def __iter__(self) -> Iterator[Image.Image]:
        while True:
            data = self._read_frame()
            if len(data) < self.frame_size:
                self.leftover = len(data)
                return
            self.count += 1
            yield Image.frombytes(INPUT_MODE, self.size, data)

    def check_complete(self) -> None:
        """Raise IncompleteFrame if the stream ended inside a frame."""
        if self.leftover:
            width, height = self.size
            raise IncompleteFrame(
                f"frame {self.count} is incomplete: expected {self.frame_size:,} bytes "
                f"({width}x{height} RGB24), got {self.leftover:,}; the {self.count} complete "
                "frames before it were written (do WIDTH HEIGHT match ffmpeg's output size?)"
            )


def raw_frame(image: Image.Image) -> bytes:
    """A finished picture as one packed raw frame: RGBA, or grey for a mask (``L``)."""
    mode = image.mode if image.mode in RAW_MODES else "RGBA"
    return image.convert(mode).tobytes()


def check_pattern(pattern: str) -> None:
    """A printf-style file name with one whole-number field (``out-%03d.png``, rembg's
    ``%03u``); raise OptionError otherwise."""
    try:
        first, second = pattern % 0, pattern % 1
    except (TypeError, ValueError):
        first = second = ""
    if not first or first == second:
        raise OptionError(
            f"-o: expected a printf-style pattern with one number field like "
            f"frame-%03d.png, got {pattern!r}"
        )


def frame_name(pattern: str, index: int) -> str:
    """The file name of frame ``index`` (from 0, as rembg ``b``)."""
    return pattern % index

"""Raw frames in and out, and the names of one file per frame: small arrays, no server."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from client.rawvideo import FrameReader, check_pattern, frame_name, raw_frame
from u2net.errors import IncompleteFrame, OptionError

WIDTH, HEIGHT = 5, 3


class Trickle(io.RawIOBase):
    """A pipe that hands out at most ``step`` bytes per read, as a real pipe may."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step = data, step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.step if size < 0 else min(size, self.step)
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


def frames(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(count)
    return [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(count)]


@pytest.mark.parametrize("step", [1, 7, 1000])
def test_frames_come_back_whole_however_the_pipe_splits_them(step: int) -> None:
    sent = frames(4)
    reader = FrameReader(Trickle(b"".join(f.tobytes() for f in sent), step), WIDTH, HEIGHT)
    got = [np.asarray(image) for image in reader]
    assert len(got) == 4 and reader.count == 4
    for a, b in zip(sent, got, strict=True):
        np.testing.assert_array_equal(a, b)
    reader.check_complete()  # nothing left over


def test_a_short_last_frame_ends_the_frames_then_names_its_index_and_bytes() -> None:
    data = b"".join(f.tobytes() for f in frames(2)) + b"\x00" * 10
    reader = FrameReader(io.BytesIO(data), WIDTH, HEIGHT)
    assert len(list(reader)) == 2  # both complete frames first
    with pytest.raises(IncompleteFrame) as caught:
        reader.check_complete()
    message = str(caught.value)
    assert "frame 2 " in message and "expected 45 bytes" in message and "got 10" in message


def test_an_empty_stream_has_no_frames_and_no_error() -> None:
    reader = FrameReader(io.BytesIO(b""), WIDTH, HEIGHT)
    assert list(reader) == []
    reader.check_complete()


@pytest.mark.parametrize(
    ("mode", "channels"), [("RGBA", 4), ("L", 1), ("RGB", 4)], ids=["rgba", "mask", "opaque"]
)
def test_raw_output_is_packed_rgba_or_grey(mode: str, channels: int) -> None:
    image = Image.new(mode, (WIDTH, HEIGHT), (10, 20, 30, 40)[: len(mode)])
    data = raw_frame(image)
    assert len(data) == WIDTH * HEIGHT * channels
    first = data[:channels]
    assert first == {"RGBA": b"\x0a\x14\x1e\x28", "L": b"\x0a", "RGB": b"\x0a\x14\x1e\xff"}[mode]


@pytest.mark.parametrize("pattern", ["out-%03d.png", "f%d.webp", "rembg-%03u.png", "a/%05i.png"])
def test_printf_patterns_name_frames_from_zero(pattern: str) -> None:
    check_pattern(pattern)
    assert frame_name(pattern, 0) != frame_name(pattern, 1)
    assert frame_name("out-%03d.png", 7) == "out-007.png"


@pytest.mark.parametrize("pattern", ["out.png", "out-%s-%d.png", "out-%q.png", "%%d.png"])
def test_a_pattern_without_one_number_field_is_refused(pattern: str) -> None:
    with pytest.raises(OptionError, match="expected a printf-style pattern"):
        check_pattern(pattern)

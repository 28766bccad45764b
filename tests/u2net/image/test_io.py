"""Opening and encoding images: decoding any mode, EXIF, frames, bad files, the pixel limit
read from the header, the sides each encoder can write."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from tests.bad_files import BAD_FILES, png_bomb_bytes
from tests.data import PHOTOS
from u2net.errors import InvalidImage
from u2net.image.io import encode, header_size, open_rgb
from u2net.options import OutputOptions
from u2net.samples import PROBE_NAME

ORIENTATION = 0x0112  # the EXIF tag
ASTRONAUT = next(p for p in PHOTOS if p.name == PROBE_NAME)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.open(ASTRONAUT).convert("RGB").resize((64, 48))


def _as_mode(rgb: Image.Image, mode: str) -> Image.Image:
    if mode == "P+transparency":
        p = rgb.convert("P")
        p.info["transparency"] = 0
        return p
    if mode == "I;16":
        return Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    return rgb.convert(mode)


# 8-bit modes; the deep ones (I;16, I, F), which convert("RGB") clips:
# tests/u2net/image/test_decode.py
MODES = ["1", "L", "LA", "P", "P+transparency", "RGBA", "CMYK"]


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_becomes_rgb_as_rembg_does(photo: Image.Image, mode: str) -> None:
    image = _as_mode(photo, mode)
    got = open_rgb(image)
    assert got.mode == "RGB" and got.size == photo.size
    np.testing.assert_array_equal(np.asarray(got), np.asarray(image.convert("RGB")))


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16"])
def test_encoded_modes_decode_from_bytes(photo: Image.Image, mode: str) -> None:
    image = _as_mode(photo, mode)
    buffer = io.BytesIO()
    image.save(buffer, format="TIFF" if mode in ("CMYK", "I;16") else "PNG")
    got = open_rgb(buffer.getvalue())
    assert got.mode == "RGB" and got.size == photo.size


@pytest.mark.parametrize("given", ["path", "bytes", "image"])
def test_exif_orientation_is_applied_and_a_callers_image_left_as_it_was(
    photo: Image.Image, tmp_path: Path, given: str
) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # rotate 90° clockwise to display
    path = tmp_path / "rotated.jpg"
    photo.save(path, exif=exif.tobytes())
    callers = Image.open(path)
    got = open_rgb({"path": path, "bytes": path.read_bytes(), "image": callers}[given])
    assert got.size == (photo.height, photo.width)
    upright = ImageOps.exif_transpose(Image.open(path))  # Pillow's own turn, of its own copy
    np.testing.assert_array_equal(np.asarray(got), np.asarray(upright))
    assert callers.size == photo.size and callers.getexif()[ORIENTATION] == 6


def test_animated_image_uses_first_frame(photo: Image.Image, tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    frames = [photo, Image.new("RGB", photo.size, (255, 0, 0))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    got = np.asarray(open_rgb(path), dtype=np.int16)
    first = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    np.testing.assert_array_equal(got, first)
    assert not (got == [255, 0, 0]).all()


@pytest.mark.parametrize(("name", "content", "says"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_files_raise_invalid_image(
    tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidImage, match=None) as info:
        open_rgb(path)
    assert says in str(info.value) and "\n" not in str(info.value)


def test_pixel_limit_is_configurable(photo: Image.Image) -> None:
    with pytest.raises(InvalidImage, match="expected at most 100 pixels"):
        open_rgb(photo, max_pixels=100)


# an error reaches HTTP clients, CLI users and Triton clients alike: no flag of one of them,
# and none of Pillow's wording (its guard has its own limit and speaks of attacks)
NOT_FOR_EVERY_READER = ("--max-pixels", "max_output_pixels", "Pillow", "DOS", "decompression")


@pytest.mark.parametrize(
    ("content", "max_pixels", "says"),
    [
        (png_bomb_bytes(11000, 11000), 100_000_000,
         "expected at most 100,000,000 pixels, got 11000x11000 = 121,000,000"),
        (png_bomb_bytes(20000, 20000), 100_000_000,
         "expected at most 100,000,000 pixels, got 400,000,000"),
        # a limit above Pillow's guard (twice Image.MAX_IMAGE_PIXELS): the guard is the limit
        (png_bomb_bytes(20000, 20000), 10**9,
         f"expected at most {2 * Image.MAX_IMAGE_PIXELS:,} pixels, got 400,000,000"),
    ],
    ids=["ours", "pillows-guard-too", "pillows-guard-first"],
)  # fmt: skip
def test_the_pixel_limit_names_one_limit_and_no_flag(content, max_pixels, says) -> None:
    for read in (open_rgb, header_size):
        with pytest.raises(InvalidImage) as info:
            read(content, max_pixels)
        assert str(info.value) == says
        assert not any(word in str(info.value) for word in NOT_FOR_EVERY_READER)


def test_the_header_size_is_the_upright_pictures(photo: Image.Image) -> None:
    """EXIF orientations 5..8 swap the sides, as decoding does (a roi is of the upright
    picture): read from the header alone."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif.tobytes())
    assert header_size(buffer.getvalue()) == open_rgb(buffer.getvalue()).size == (48, 64)


@pytest.mark.parametrize(
    ("fmt", "size", "says"),
    [
        ("webp", (16384, 8), "format webp: expected at most 16383 px per side, got 16384x8"),
        ("jpg", (8, 65501), "format jpg: expected at most 65500 px per side, got 8x65501"),
    ],
)
def test_a_result_the_encoder_cannot_write_is_one_clear_line(
    fmt: str, size: tuple[int, int], says: str
) -> None:
    with pytest.raises(InvalidImage, match=says) as info:
        encode(Image.new("RGBA", size), OutputOptions(fmt=fmt, bgcolor=(0, 0, 0, 255)))
    assert str(info.value).endswith("; ask for png, or a smaller result")  # no one API's field


def test_the_largest_webp_side_still_encodes() -> None:
    data = encode(Image.new("RGBA", (16383, 8)), OutputOptions(fmt="webp"))
    assert Image.open(io.BytesIO(data)).size == (16383, 8)

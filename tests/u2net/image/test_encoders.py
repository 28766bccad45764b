"""The encoders: PNG exact at every level and mode, the ICC profile read back by Pillow,
WebP lossless and exact (RGB under alpha 0 is what the picture has)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from tests.data import PHOTOS
from u2net.image.decode import ICC
from u2net.image.encoders import encode, encode_png
from u2net.image.io import open_rgb


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    rgb = open_rgb(PHOTOS[0]).resize((160, 120))
    rgba = rgb.convert("RGBA")
    rgba.putalpha(rgb.convert("L"))  # soft, opaque and (where the photo is black) clear
    return rgba


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
@pytest.mark.parametrize("level", [0, 1, 6])  # stored, RLE, zlib default strategy
def test_png_is_exact_at_every_level(photo: Image.Image, mode: str, level: int) -> None:
    image = photo.convert(mode)
    back = Image.open(io.BytesIO(encode_png(image, level)))
    assert (back.format, back.mode) == ("PNG", mode)
    np.testing.assert_array_equal(np.asarray(back), np.asarray(image))


def test_png_carries_the_icc_profile(photo: Image.Image) -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo.info[ICC] = profile
    try:
        back = Image.open(io.BytesIO(encode(photo, "png", 1)))
        back.load()  # a bad chunk CRC fails here
    finally:
        del photo.info[ICC]
    assert back.info[ICC] == profile
    np.testing.assert_array_equal(np.asarray(back), np.asarray(photo))


def test_png_of_another_mode_is_written_as_rgba() -> None:
    image = Image.new("LA", (4, 3), (200, 100))
    back = Image.open(io.BytesIO(encode_png(image, 1)))
    assert back.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(back), np.asarray(image.convert("RGBA")))


def test_webp_is_the_picture_exactly(photo: Image.Image) -> None:
    """Lossless and exact: RGB under alpha 0 stays what it is (0 in clean and rembg)."""
    pixels = np.asarray(photo).copy()
    pixels[pixels[..., 3] == 0, :3] = 0
    pixels[:8, :8] = (250, 10, 10, 0)  # colour under alpha 0 is kept as is, not rewritten
    image = Image.fromarray(pixels, mode="RGBA")
    back = Image.open(io.BytesIO(encode(image, "webp", 1)))
    np.testing.assert_array_equal(np.asarray(back.convert("RGBA")), pixels)

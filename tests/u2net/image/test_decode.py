"""The one decode step: deep and float images scaled (never clipped), HEIC and AVIF read with
their orientation and profile, and the photo's ICC profile carried into every output format."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from tests import rembg_reference as ref
from tests.data import PHOTOS, original_model
from tests.photo_modes import DEEP, heic, jpeg_with_profile, rgb_profile
from u2net.image.decode import ICC
from u2net.image.io import encode, header_size, open_rgb
from u2net.image.render import render
from u2net.options import OutputOptions
from u2net.samples import PROBE_NAME

ASTRONAUT = next(p for p in PHOTOS if p.name == PROBE_NAME)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.open(ASTRONAUT).convert("RGB")


@pytest.fixture(scope="module")
def reference():
    return ref.session(original_model("u2netp"))


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.fixture(scope="module")
def eight_bit(photo: Image.Image, reference) -> Callable[[str], tuple[Image.Image, np.ndarray]]:
    """The photo in an 8-bit mode, decoded, and rembg's mask of it: once per mode."""

    @functools.cache
    def decoded_and_mask(mode: str) -> tuple[Image.Image, np.ndarray]:
        original = open_rgb(photo.convert(mode))
        return original, _pixels(ref.rembg_mask(reference, original))

    return decoded_and_mask


@pytest.mark.parametrize("kind", list(DEEP))
def test_a_deep_image_gives_the_8bit_picture_and_its_mask(
    photo: Image.Image, reference, eight_bit, kind: str
) -> None:
    write, eight_bit_mode = DEEP[kind]
    original, original_mask = eight_bit(eight_bit_mode)
    got = open_rgb(write(photo))
    assert got.mode == "RGB" and got.size == original.size
    assert np.abs(_pixels(got) - _pixels(original)).max() <= 1
    mask = _pixels(ref.rembg_mask(reference, got))
    assert np.abs(mask - original_mask).max() <= 1


def _decoded_grey(image: Image.Image) -> np.ndarray:
    return np.asarray(open_rgb(image))[..., 0].ravel()


def test_16bit_values_are_divided_by_257_with_rounding() -> None:
    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    expected = np.floor(values / 257 + 0.5).astype(np.uint8).ravel()
    np.testing.assert_array_equal(_decoded_grey(Image.fromarray(values)), expected)


def test_32bit_values_are_scaled_by_the_full_range() -> None:
    values = np.array([[0, 8421504, 8421505, 2**31, 2**32 - 1]], dtype=np.uint32)
    # 2**31 is stored by Pillow as a negative int32, read back as the unsigned value
    np.testing.assert_array_equal(_decoded_grey(Image.fromarray(values)), [0, 0, 1, 128, 255])


def test_float_values_are_taken_as_0_to_1_and_clipped() -> None:
    values = np.array([[-0.5, 0.0, 0.5, 1.0, 7.0, np.nan]], dtype=np.float32)
    np.testing.assert_array_equal(_decoded_grey(Image.fromarray(values)), [0, 0, 128, 255, 255, 0])


def test_heic_orientation_and_profile_are_honoured(photo: Image.Image) -> None:
    icc = rgb_profile()
    data = heic(photo.crop((0, 0, 512, 300)), orientation=6, icc=icc)  # 6: turn 90° clockwise
    got = open_rgb(data)
    upright = photo.crop((0, 0, 512, 300)).transpose(Image.Transpose.ROTATE_270)
    assert header_size(data) == got.size == upright.size == (300, 512)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(upright))
    assert got.info[ICC] == icc


def test_avif_is_read(photo: Image.Image) -> None:
    buffer = io.BytesIO()
    photo.save(buffer, format="AVIF", quality=100, subsampling="4:4:4")
    got = open_rgb(buffer.getvalue())
    assert got.size == photo.size
    assert np.abs(_pixels(got) - _pixels(photo)).max() <= 2  # near-lossless AVIF


def _mask() -> np.ndarray:
    """A 320x320 mask: the left half is foreground."""
    mask = np.zeros((320, 320), np.uint8)
    mask[:, :160] = 255
    return mask


OUTPUTS = {
    "png": OutputOptions(),
    "webp": OutputOptions(fmt="webp"),
    "jpg": OutputOptions(fmt="jpg", bgcolor=(255, 255, 255, 255)),
    "png-over-colour": OutputOptions(bgcolor=(0, 0, 255, 100)),
    "webp-cropped": OutputOptions(fmt="webp", crop=True, max_output_pixels=10_000),
}


@pytest.mark.parametrize("output", list(OUTPUTS))
def test_the_photos_profile_is_in_every_output_format(photo: Image.Image, output: str) -> None:
    icc = rgb_profile()
    options = OUTPUTS[output]
    rgb = open_rgb(jpeg_with_profile(photo, icc))
    result = Image.open(io.BytesIO(encode(render(rgb, _mask(), options), options)))
    assert result.info.get(ICC) == icc


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_a_mask_carries_no_colour_profile(photo: Image.Image, fmt: str) -> None:
    options = OutputOptions(only_mask=True, fmt=fmt)
    rgb = open_rgb(jpeg_with_profile(photo, rgb_profile()))
    result = Image.open(io.BytesIO(encode(render(rgb, _mask(), options), options)))
    assert result.mode == "L" and ICC not in result.info


def test_a_cmyk_profile_is_not_put_on_the_rgb_result(photo: Image.Image) -> None:
    """The CMYK picture becomes RGB as before; its CMYK profile would no longer describe it."""
    icc = bytearray(rgb_profile())
    icc[16:20] = b"CMYK"
    buffer = io.BytesIO()
    photo.convert("CMYK").save(buffer, format="JPEG", quality=95, icc_profile=bytes(icc))
    rgb = open_rgb(buffer.getvalue())
    options = OutputOptions()
    result = Image.open(io.BytesIO(encode(render(rgb, _mask(), options), options)))
    assert ICC not in rgb.info and ICC not in result.info

"""The picture maths: the model's input, masks resized and onto another grid, alpha, colours,
formats, rembg's mask post-processing."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.data import PHOTOS
from u2net.contract import CONTRACT
from u2net.image import compositing
from u2net.image.io import encode
from u2net.image.postprocess import post_process_mask
from u2net.image.render import mask_on_grid, mask_to_size, render, to_model_input
from u2net.options import OutputOptions, parse_color
from u2net.samples import PROBE_NAME

ASTRONAUT = next(p for p in PHOTOS if p.name == PROBE_NAME)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.open(ASTRONAUT).convert("RGB").resize((64, 48))


def test_model_input_is_lanczos_320(photo: Image.Image) -> None:
    x = to_model_input(photo)
    assert x.shape == (CONTRACT.size, CONTRACT.size, CONTRACT.channels) and x.dtype == np.uint8
    expected = photo.resize((CONTRACT.size, CONTRACT.size), Image.Resampling.LANCZOS)
    np.testing.assert_array_equal(x, np.asarray(expected))


def _mask() -> np.ndarray:
    mask = np.zeros(CONTRACT.output_dims, dtype=np.uint8)
    mask[80:240, 80:240] = 255
    mask[100:120, 100:120] = 128
    return mask


def test_straight_alpha_keeps_rgb(photo: Image.Image) -> None:
    mask = mask_to_size(_mask(), photo.size)
    out = compositing.cutout(photo, mask, compositing.STRAIGHT)
    assert out.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(out)[..., :3], np.asarray(photo))
    np.testing.assert_array_equal(np.asarray(out)[..., 3], np.asarray(mask))


def test_mask_resize_is_lanczos(photo: Image.Image) -> None:
    got = mask_to_size(_mask(), photo.size)
    expected = Image.fromarray(_mask()).resize(photo.size, Image.Resampling.LANCZOS)
    assert got.mode == "L"
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


@pytest.mark.parametrize(
    ("shape", "grid"),
    [((1024, 1024), (320, 320)), ((320, 320), (1024, 1024)), ((40, 30), (30, 50))],
)
def test_a_mask_onto_another_grid_is_its_lanczos_resize(shape, grid) -> None:
    """[H, W] both ways: a non-square grid catches a width and height swapped."""
    mask = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    got = mask_on_grid(mask, grid)
    expected = Image.fromarray(mask).resize(grid[::-1], Image.Resampling.LANCZOS)
    assert got.dtype == np.uint8 and got.shape == grid
    np.testing.assert_array_equal(got, np.asarray(expected))


@pytest.mark.parametrize("value", [0, 255])
def test_a_flat_mask_stays_flat_on_another_grid(value: int) -> None:
    found = mask_on_grid(np.full((1024, 1024), value, np.uint8), (320, 320))
    assert found.shape == (320, 320) and (found == value).all()


def test_a_mask_already_on_the_grid_is_not_resized() -> None:
    mask = np.random.default_rng(1).integers(0, 256, (320, 320), dtype=np.uint8)
    assert mask_on_grid(mask, (320, 320)) is mask


@pytest.mark.parametrize(
    ("shape", "grid"), [((1, 320, 320), (320, 320)), ((320, 320), (1, 320, 320))]
)
def test_only_a_2d_mask_goes_onto_a_2d_grid(shape, grid) -> None:
    with pytest.raises(ValueError, match=r"expected a \[H, W\] mask onto a \[H, W\] grid, got"):
        mask_on_grid(np.zeros(shape, np.uint8), grid)


@pytest.mark.parametrize(("color", "mode"), [((0, 255, 0, 255), "RGB"), ((0, 0, 255, 128), "RGBA")])
def test_render_over_bgcolor_pixel_by_pixel(photo: Image.Image, color: tuple, mode: str) -> None:
    """``straight``: every pixel is the photo "over" the colour (Porter-Duff), alpha from the
    resized mask."""
    mask_320 = np.zeros(CONTRACT.output_dims, dtype=np.uint8)
    mask_320[:, CONTRACT.size // 2 :] = 255
    out = render(photo, mask_320, OutputOptions(bgcolor=color, composite="straight"))
    assert out.mode == mode
    alpha = np.asarray(mask_to_size(mask_320, photo.size), dtype=np.float64)[..., None] / 255
    background_alpha = color[3] / 255
    out_alpha = alpha + background_alpha * (1 - alpha)
    rgb = np.asarray(photo, dtype=np.float64) * alpha
    rgb += np.asarray(color[:3], dtype=np.float64) * background_alpha * (1 - alpha)
    rgb /= out_alpha
    expected = rgb if mode == "RGB" else np.concatenate([rgb, out_alpha * 255], axis=2)
    diff = np.abs(np.asarray(out, dtype=np.float64) - expected)
    assert diff.max() <= 1.0  # Pillow's fixed-point rounding
    assert (np.asarray(out)[:, 0, :3] == color[:3]).all()  # pure background on the left


@pytest.mark.parametrize(
    ("options", "mode", "fmt"),
    [
        (OutputOptions(), "RGBA", "PNG"),
        (OutputOptions(fmt="webp"), "RGBA", "WEBP"),
        (OutputOptions(fmt="jpg", bgcolor=(255, 255, 255, 255)), "RGB", "JPEG"),
        (OutputOptions(only_mask=True), "L", "PNG"),
        (OutputOptions(only_mask=True, fmt="jpg"), "L", "JPEG"),
    ],
    ids=["png", "webp", "jpg-bgcolor", "mask-png", "mask-jpg"],
)
def test_render_and_encode(photo: Image.Image, options: OutputOptions, mode: str, fmt: str) -> None:
    data = encode(render(photo, _mask(), options), options)
    back = Image.open(io.BytesIO(data))
    assert (back.format, back.mode, back.size) == (fmt, mode, photo.size)


def test_png_is_lossless(photo: Image.Image) -> None:
    options = OutputOptions()
    rendered = render(photo, _mask(), options)
    back = Image.open(io.BytesIO(encode(rendered, options)))
    np.testing.assert_array_equal(np.asarray(back), np.asarray(rendered))


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"fmt": "jpg"}, "give a background colour"),
        ({"fmt": "gif"}, "format: expected one of png, webp, jpg"),
        ({"png_compression": 11}, "png_compression: expected 0..9, got 11"),
    ],
)
def test_bad_output_options(kwargs: dict, says: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        OutputOptions(**kwargs)
    assert says in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("255,255,255", (255, 255, 255, 255)), ("0,0,0,128", (0, 0, 0, 128))],
)
def test_parse_color(text: str, expected: tuple) -> None:
    assert parse_color(text) == expected


@pytest.mark.parametrize("text", ["red", "1,2", "1,2,3,4,5", "0,0,256"])
def test_parse_color_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected R,G,B or R,G,B,A"):
        parse_color(text)


def _rembg_post_process(mask: np.ndarray) -> np.ndarray:
    """rembg's post_process (bg.py), with OpenCV, as rembg runs it."""
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    mask = cv2.GaussianBlur(mask, (5, 5), sigmaX=2, sigmaY=2, borderType=cv2.BORDER_DEFAULT)
    return np.where(mask < 127, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("photo_path", PHOTOS, ids=[p.name for p in PHOTOS])
def test_post_process_mask_equals_rembgs_opencv(photo_path: Path) -> None:
    """Grey photos are harsher than masks: every level and plenty of edges."""
    grey = np.asarray(Image.open(photo_path).convert("L"))
    got = post_process_mask(Image.fromarray(grey))
    assert got.mode == "L"
    np.testing.assert_array_equal(np.asarray(got), _rembg_post_process(grey))


def test_post_process_mask_on_noise_and_render(photo: Image.Image) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (37, 53), dtype=np.uint8)
    np.testing.assert_array_equal(
        np.asarray(post_process_mask(Image.fromarray(noise))), _rembg_post_process(noise)
    )
    out = render(photo, _mask(), OutputOptions(only_mask=True, post_process=True))
    assert set(np.unique(np.asarray(out))) <= {0, 255}
